package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/notice"
)

// noticeRoutes registers the response package's pages: notices, their
// review and preview, the review queue, notifications and playbooks.
func (h *handler) noticeRoutes(handle func(pattern string, fn func(http.ResponseWriter, *http.Request))) {
	handle("POST /incidents/{id}/playbook", h.applyPlaybook)
	handle("POST /incidents/{id}/playbooks", h.saveIncidentPlaybook)
	handle("GET /incidents/{id}/notices/new", h.newNoticeForm)
	handle("POST /incidents/{id}/notices", h.createNotice)

	handle("GET /notices/{id}", h.showNotice)
	handle("GET /notices/{id}/edit", h.editNotice)
	handle("POST /notices/{id}", h.saveNotice)
	handle("GET /notices/{id}/diff", h.noticeDiff)
	handle("GET /notices/{id}/preview", h.previewNotice)
	handle("GET /notices/{id}/preview/email", h.previewEmail)
	handle("GET /notices/{id}/variants", h.previewVariants)
	handle("POST /notices/{id}/submit", h.submitNotice)
	handle("POST /notices/{id}/review", h.reviewNotice)
	handle("POST /notices/{id}/withdraw", h.withdrawNotice)

	handle("GET /reviews", h.reviews)
	handle("GET /notifications", h.notifications)

	handle("GET /playbooks", h.playbooks)
	handle("GET /playbooks/{key}", h.showPlaybook)
	handle("GET /playbooks/{key}/edit", h.editPlaybook)
	handle("POST /playbooks/{key}", h.savePlaybook)
	handle("POST /playbooks/{key}/copy", h.copyPlaybook)
}

// noticeFuncs are the template functions of the notice pages.
func noticeFuncs() template.FuncMap {
	return template.FuncMap{
		"channels": func() []notice.Channel { return notice.Channels },
		"audienceKinds": func() []struct {
			Kind  audience.Kind
			Label string
		} {
			return audience.Kinds
		},
		"micro": micro,
		// variantName names variant i of a content (-1: the default).
		"variantName": func(c notice.Content, i int) string {
			if i < 0 || i >= len(c.Variants) {
				return "Default text"
			}
			return c.Variants[i].Name
		},
		"channelLabel": channelLabel,
		"partLabel":    partLabel,
	}
}

func channelLabel(c notice.Channel) string {
	switch c {
	case notice.ChannelEmail:
		return "Email"
	case notice.ChannelSMS:
		return "SMS"
	case notice.ChannelStatusPage:
		return "Status page"
	case notice.ChannelBanner:
		return "Site banner"
	case notice.ChannelInApp:
		return "In-app alert"
	case notice.ChannelSocial:
		return "Social"
	case notice.ChannelLetter:
		return "Letter"
	}
	return string(c)
}

// partLabel names a part of a notice's content for people:
// "variants[1].body" → "Variant 2: body".
func partLabel(part string) string {
	if rest, ok := strings.CutPrefix(part, "variants["); ok {
		num, field, _ := strings.Cut(rest, "]")
		i, err := strconv.Atoi(num)
		if err == nil {
			if field == "" {
				return fmt.Sprintf("Variant %d: name, segment and locale", i+1)
			}
			return fmt.Sprintf("Variant %d: %s", i+1, strings.TrimPrefix(field, "."))
		}
	}
	return upperFirst(part)
}
