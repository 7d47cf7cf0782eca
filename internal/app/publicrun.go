package app

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/webhook"
)

// PublicRunner keeps the public side current: it rebuilds the snapshot the
// site serves whenever the public state changes (in this process or
// another sharing the database) or a scheduled update falls due; hands
// each published update to its subscribers (email through the delivery
// ledger, webhooks); announces the quiet period's start and end; and
// delivers the queued webhooks with retries.
type PublicRunner struct {
	svc    *Service
	site   *public.Site
	page   status.Page
	log    *slog.Logger
	client *webhook.Client
	wake   chan struct{}

	// Poll is how often the database is asked whether anything changed
	// (default 1s): the most a change made by another process waits.
	Poll time.Duration

	mu      sync.Mutex
	version int64
	next    time.Time
	// welcomed are the quiet-period subscribers told the current state.
	welcomed map[int64]bool
}

// NewPublicRunner returns a runner that publishes to site.
func (s *Service) NewPublicRunner(site *public.Site, page status.Page) *PublicRunner {
	r := &PublicRunner{svc: s, site: site, page: page, log: s.log.With("component", "public"), wake: make(chan struct{}, 1), Poll: time.Second,
		client: &webhook.Client{AllowPrivate: s.public.AllowPrivateWebhooks}}
	s.SetPublicWake(r.Wake)
	return r
}

// Wake makes the runner look for changes now.
func (r *PublicRunner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Refresh builds and publishes the snapshot now.
func (r *PublicRunner) Refresh(ctx context.Context) error {
	snap, v, next, err := r.svc.BuildSnapshot(ctx, r.page)
	if err != nil {
		return err
	}
	if err := r.site.Publish(snap); err != nil {
		return err
	}
	r.mu.Lock()
	r.version, r.next = v, next
	r.mu.Unlock()
	return r.announceQuiet(ctx, snap)
}

// Run works until ctx ends.
func (r *PublicRunner) Run(ctx context.Context) error {
	if err := r.Refresh(ctx); err != nil {
		r.log.Error("public_refresh", "err", err)
	}
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	var sending sync.WaitGroup
	defer sending.Wait()
	busy := make(chan struct{}, 1)
	for {
		if err := r.tick(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("public_tick", "err", err)
		}
		// Webhooks go out beside the loop, one batch at a time, so a slow
		// receiver never delays the page.
		select {
		case busy <- struct{}{}:
			sending.Add(1)
			go func() {
				defer func() { <-busy; sending.Done() }()
				r.sendWebhooks(ctx)
			}()
		default:
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-r.wake:
		}
	}
}

func (r *PublicRunner) tick(ctx context.Context) error {
	v, err := r.svc.db.PublicVersion(ctx)
	if err != nil {
		return err
	}
	r.mu.Lock()
	stale := v != r.version || (!r.next.IsZero() && !r.svc.db.Now().Before(r.next))
	r.mu.Unlock()
	if stale {
		if err := r.Refresh(ctx); err != nil {
			return err
		}
	}
	if err := r.welcomeQuiet(ctx); err != nil {
		return err
	}
	due, err := r.svc.db.DueNotifications(ctx, 20)
	if err != nil {
		return err
	}
	// One update that cannot be sent (it is retried next tick) does not
	// hold back the others.
	var first error
	for _, u := range due {
		if err := r.notify(ctx, u); err != nil {
			r.log.Error("update_notify", "update", u.ID, "err", err)
			if first == nil {
				first = fmt.Errorf("tell subscribers of update %d: %w", u.ID, err)
			}
		}
	}
	return first
}

// announceQuiet queues the quiet-period webhooks when its state differs
// from the one last announced (by any process).
func (r *PublicRunner) announceQuiet(ctx context.Context, snap *status.Snapshot) error {
	subs, err := r.svc.db.FindSubscribers(ctx, store.SubscriberQuiet, store.SubConfirmed)
	if err != nil {
		return err
	}
	event := "quiet_period.ended"
	if snap.Quiet.Active {
		event = "quiet_period.started"
	}
	now := r.svc.db.Now()
	body, err := public.WebhookQuietPayload(snap, event, now)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("quiet_%d", now.UnixMicro())
	did, err := r.svc.db.AnnounceQuiet(ctx, snap.Quiet.Active, func(tx *store.Tx) error {
		for _, s := range subs {
			if err := tx.EnqueueWebhook(ctx, s.ID, event, fmt.Sprintf("msg_%s_%d", key, s.ID), body); err != nil {
				return err
			}
		}
		return nil
	})
	if did {
		r.log.Info("quiet_period_announced", "active", snap.Quiet.Active, "systems", len(subs))
		r.Wake()
	}
	return err
}

// welcomeQuiet tells a system registered during a quiet period (after its
// start was announced) that it is on, so that it holds promotions at
// once. The webhook id is fixed per subscriber: it is sent once.
func (r *PublicRunner) welcomeQuiet(ctx context.Context) error {
	snap := r.site.Snapshot()
	if snap == nil || !snap.Quiet.Active {
		return nil
	}
	q, err := r.svc.db.QuietState(ctx)
	if err != nil || !q.Announced {
		return err
	}
	subs, err := r.svc.db.FindSubscribers(ctx, store.SubscriberQuiet, store.SubConfirmed)
	if err != nil {
		return err
	}
	r.mu.Lock()
	if r.welcomed == nil {
		r.welcomed = map[int64]bool{}
	}
	var todo []store.Subscriber
	for _, s := range subs {
		if !r.welcomed[s.ID] && s.ConfirmedAt.After(q.AnnouncedAt) {
			todo = append(todo, s)
		}
	}
	r.mu.Unlock()
	if len(todo) == 0 {
		return nil
	}
	body, err := public.WebhookQuietPayload(snap, public.QuietStarted, r.svc.db.Now())
	if err != nil {
		return err
	}
	for _, s := range todo {
		if _, err := r.svc.db.EnqueueWebhookOnce(ctx, s.ID, public.QuietStarted, fmt.Sprintf("msg_quiet_hello_%d", s.ID), body); err != nil {
			return err
		}
		r.mu.Lock()
		r.welcomed[s.ID] = true
		r.mu.Unlock()
	}
	r.Wake()
	return nil
}

// notify hands one published update to its subscribers. Each step can be
// repeated: the email notice is found again by its key, a release adds
// only missing recipients, and webhook ids are unique per update and
// subscriber; so a crash between steps loses nothing and sends nothing
// twice.
func (r *PublicRunner) notify(ctx context.Context, u store.UpdateInfo) error {
	snap := r.site.Snapshot()
	if snap == nil {
		return nil
	}
	if _, ok := snap.Incident(u.IncidentID); !ok {
		// Published after this snapshot was built; the next one has it.
		r.Wake()
		return nil
	}
	counts, err := r.svc.db.SubscriberCounts(ctx)
	if err != nil {
		return err
	}
	if counts[store.SubscriberEmail][store.SubConfirmed] > 0 {
		if err := r.emailUpdate(ctx, snap, u); err != nil {
			return err
		}
	}
	event := "incident.updated"
	if in, _ := snap.Incident(u.IncidentID); len(in.Updates) > 0 && in.Updates[len(in.Updates)-1].ID == u.ID {
		event = "incident.created"
	}
	n, err := r.svc.db.EnqueueWebhooks(ctx, store.SubscriberWebhook, event, fmt.Sprintf("upd%d", u.ID), func(s store.Subscriber) ([]byte, error) {
		unsub, err := r.svc.UnsubscribeURL(ctx, s.ID)
		if err != nil {
			return nil, err
		}
		return public.WebhookIncidentPayload(snap, u.IncidentID, event, unsub, r.svc.db.Now())
	})
	if err != nil {
		return err
	}
	if err := r.svc.db.MarkNotified(ctx, u.ID); err != nil {
		return err
	}
	r.log.Info("update_notified", "update", u.ID, "webhooks", n)
	if n > 0 {
		r.Wake()
	}
	return nil
}

// statusSystem is who writes the subscriber emails of updates.
var statusSystem = auth.System("status page")

// emailUpdate releases an update by email to the confirmed subscribers,
// through the delivery ledger: a notice written from the update, approved
// by the approver who published the update (publishing is the approval),
// released to the incident's subscribers audience.
func (r *PublicRunner) emailUpdate(ctx context.Context, snap *status.Snapshot, u store.UpdateInfo) error {
	db := r.svc.db
	aid, err := r.subscribersAudience(ctx, u.IncidentID)
	if err != nil {
		return err
	}
	in, _ := snap.Incident(u.IncidentID)
	item := fmt.Sprintf("update-%d", u.ID)
	created, err := db.CreateNotices(ctx, statusSystem, []notice.New{{
		IncidentID: u.IncidentID, Title: fmt.Sprintf("Status update to subscribers: %s (%s)", u.Status.Label(), u.DisplayAt.UTC().Format("2 Jan 15:04 UTC")),
		AudienceKind: string(audience.Custom), AudienceID: aid, Channels: []notice.Channel{notice.ChannelEmail},
		PlaybookKey: "status-page", ItemKey: item, Content: r.updateEmail(snap, in, u.Update),
	}}, "Written from a status page update for its subscribers")
	if err != nil {
		return fmt.Errorf("write the subscriber email: %w", err)
	}
	var n notice.Notice
	if len(created) == 1 {
		n = created[0]
	} else {
		all, err := db.FindNotices(ctx, u.IncidentID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(all, func(n notice.Notice) bool { return n.PlaybookKey == "status-page" && n.ItemKey == item })
		if i < 0 {
			return fmt.Errorf("the subscriber email of update %d was not found", u.ID)
		}
		n = all[i]
	}
	db.SetUpdateNotice(ctx, u.ID, n.ID)
	v, err := db.FindNoticeVersion(ctx, n.ID, 1)
	if err != nil {
		return err
	}
	if v.State == notice.Draft {
		if v, err = db.TransitionNotice(ctx, statusSystem, n.ID, 1, store.Transition{Action: "notice.submit", Summary: "Submitted with the status page update it carries", ApprovalsNeeded: 1,
			Decide: func(store.NoticeVersion) (notice.State, error) { return notice.InReview, nil }}); err != nil {
			return err
		}
	}
	approver, err := db.FindUserByID(ctx, u.AuthorID)
	if err != nil {
		return fmt.Errorf("the approver who published update %d: %w", u.ID, err)
	}
	p := auth.Principal{UserID: approver.ID, Email: approver.Email, Role: approver.Role, Via: "status page update"}
	if v.State == notice.InReview {
		if _, err = db.TransitionNotice(ctx, p, n.ID, 1, store.Transition{Action: "notice.review", Summary: "Approved by publishing the status page update",
			Review: &notice.Review{ReviewerID: approver.ID, Reviewer: approver.Email, Decision: notice.DecisionApprove, Comment: fmt.Sprintf("Published as status page update %d", u.ID)},
			Decide: func(store.NoticeVersion) (notice.State, error) { return notice.Approved, nil }}); err != nil {
			return err
		}
	}
	av, err := db.CertifiedVersion(ctx, n.ID, 1)
	if err != nil {
		return err
	}
	key := make([]byte, 16)
	rand.Read(key)
	rel, added, err := db.CreateRelease(ctx, p, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: aid, TokenKey: key})
	if err != nil {
		return fmt.Errorf("release the subscriber email: %w", err)
	}
	r.log.Info("update_emailed", "update", u.ID, "notice", n.ID, "release", rel.ID, "recipients", added)
	r.svc.wakeDispatcher()
	return nil
}

// subscribersAudience returns the incident's audience of status page
// subscribers (the standing list attached), creating it on first use.
func (r *PublicRunner) subscribersAudience(ctx context.Context, incidentID int64) (int64, error) {
	db := r.svc.db
	list, err := db.SubscribersAudienceID(ctx)
	if err != nil {
		return 0, err
	}
	as, err := db.FindAudiences(ctx, incidentID)
	if err != nil {
		return 0, err
	}
	for _, a := range as {
		if a.Name == store.SubscribersAudience {
			return a.ID, nil
		}
	}
	a, err := db.CreateAudience(ctx, statusSystem, audience.New{IncidentID: incidentID, Kind: audience.Custom, Name: store.SubscribersAudience,
		Description: "Everyone subscribed to the status page; status updates are emailed to them."})
	if err != nil {
		return 0, err
	}
	if err := db.AttachList(ctx, statusSystem, a.ID, list); err != nil {
		return 0, err
	}
	return a.ID, nil
}

// noBraces keeps an update's text from being read as a placeholder.
var noBraces = strings.NewReplacer("{{", "{\u200b{", "}}", "}\u200b}")

// updateEmail writes the email of an update: the default text, and one
// variant per translation, chosen by the subscriber's language.
func (r *PublicRunner) updateEmail(snap *status.Snapshot, in status.Incident, u status.Update) notice.Content {
	link := fmt.Sprintf("%s/incidents/%d", snap.Page.URL, in.ID)
	write := func(t status.Text) (string, string) {
		subject := noBraces.Replace(fmt.Sprintf("[%s] %s: %s", snap.Page.Name, in.Title, u.Status.Label()))
		var b strings.Builder
		b.WriteString(noBraces.Replace(t.Body))
		if strings.TrimSpace(t.WhatToDo) != "" {
			b.WriteString("\n\n## What you should do\n\n")
			b.WriteString(noBraces.Replace(t.WhatToDo))
		}
		b.WriteString("\n\nRead every update: " + link)
		b.WriteString("\n\n---\n\nYou receive this because you subscribed to " + noBraces.Replace(snap.Page.Name) + " status updates. Unsubscribe: {{.Recipient.Attr \"unsubscribe_url\"}}\n")
		return subject, b.String()
	}
	var c notice.Content
	c.Subject, c.Body = write(status.Text{Body: u.Body, WhatToDo: u.WhatToDo})
	for _, l := range slices.Sorted(mapKeys(u.Translations)) {
		t, _ := u.In(l)
		subj, body := write(t)
		c.Variants = append(c.Variants, notice.Variant{Name: "Language " + l, Locale: l, Subject: subj, Body: body})
	}
	return c
}

// sendWebhooks delivers the due webhooks, a few at a time.
func (r *PublicRunner) sendWebhooks(ctx context.Context) {
	for ctx.Err() == nil {
		ds, err := r.svc.db.ClaimWebhooks(ctx, 16, 2*time.Minute)
		if err != nil {
			r.log.Error("webhook_claim", "err", err)
			return
		}
		if len(ds) == 0 {
			return
		}
		var wg sync.WaitGroup
		for _, d := range ds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r.sendWebhook(ctx, d)
			}()
		}
		wg.Wait()
	}
}

func (r *PublicRunner) sendWebhook(ctx context.Context, d store.WebhookDelivery) {
	secret, err := webhook.ParseSecret(d.Secret)
	if err != nil {
		r.log.Error("webhook_secret", "subscriber", d.SubscriberID, "err", err)
		return
	}
	res := r.client.Post(ctx, d.URL, secret, d.MsgID, d.Body)
	o := store.WebhookOutcome{OK: res.Err == "" && res.Status >= 200 && res.Status < 300, Status: res.Status, Error: res.Err}
	if !o.OK && res.Retry && d.Attempts < webhook.MaxFailures {
		wait := webhook.Backoff(d.Attempts)
		if res.RetryAfter > wait {
			wait = res.RetryAfter
		}
		o.RetryAt = r.svc.db.Now().Add(wait)
	}
	disabled, err := r.svc.db.RecordWebhook(ctx, d, o, webhook.MaxFailures)
	if err != nil {
		r.log.Error("webhook_record", "delivery", d.ID, "err", err)
		return
	}
	r.log.Info("webhook_attempt", "delivery", d.ID, "subscriber", d.SubscriberID, "event", d.EventType, "ok", o.OK, "status", res.Status, "err", res.Err, "attempt", d.Attempts)
	if disabled && r.svc.public.Mail != nil {
		text := fmt.Sprintf("The webhook %s failed %d times in a row and is now disabled.\n\nLast error: %s\n\nFix the endpoint, then subscribe it again at %s.", d.URL, webhook.MaxFailures, res.Err, r.page.URL)
		if err := r.svc.public.Mail(ctx, d.Owner, "Your status webhook was disabled", text, nil); err != nil {
			r.log.Error("webhook_owner_mail", "subscriber", d.SubscriberID, "err", err)
		}
	}
}
