package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

const pw = "correct horse battery"

func newService(t *testing.T, db *store.DB) *app.Service {
	t.Helper()
	svc := app.New(db, slog.New(slog.DiscardHandler), app.Options{SessionTTL: time.Hour})
	for _, u := range []auth.NewUser{
		{Email: "ana@example.com", Role: auth.Admin, Password: pw},
		{Email: "sam@example.com", Role: auth.Editor, Password: pw},
		{Email: "vic@example.com", Role: auth.Viewer, Password: pw},
	} {
		if _, err := svc.CreateUser(ctx, auth.CLI, u); err != nil {
			t.Fatal(err)
		}
	}
	return svc
}

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		secret, u, err := svc.Login(ctx, " SAM@example.com ", pw, "10.0.0.1", "test")
		if err != nil || u.Email != "sam@example.com" {
			t.Fatalf("login: %v", err)
		}
		p, err := svc.SessionPrincipal(ctx, secret)
		if err != nil || p.Role != auth.Editor {
			t.Fatalf("session principal: %+v %v", p, err)
		}
		_, _, wrongPw := svc.Login(ctx, "sam@example.com", "not the password", "10.0.0.1", "test")
		_, _, noUser := svc.Login(ctx, "nobody@example.com", "not the password", "10.0.0.1", "test")
		if apperr.Code(wrongPw) != apperr.EUNAUTHORIZED || apperr.Message(wrongPw) != apperr.Message(noUser) {
			t.Fatalf("a wrong password and an unknown user must look the same: %v / %v", wrongPw, noUser)
		}
		if err := svc.Logout(ctx, p, secret); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SessionPrincipal(ctx, secret); apperr.Code(err) != apperr.EUNAUTHORIZED {
			t.Fatalf("session after logout: %v", err)
		}
	})
}

func TestLoginIsRateLimited(t *testing.T) {
	svc := newService(t, storetest.SQLite(t))
	var err error
	for i := 0; i < 6; i++ {
		_, _, err = svc.Login(ctx, "ana@example.com", "guess", "10.0.0.9", "test")
	}
	if apperr.Code(err) != apperr.ETOOMANY {
		t.Fatalf("6th wrong guess for one account: %v, want rate limited", err)
	}
	// Even the right password waits now: the limit does not leak whether a
	// guess was right.
	if _, _, err := svc.Login(ctx, "ana@example.com", pw, "10.0.0.10", "test"); apperr.Code(err) != apperr.ETOOMANY {
		t.Fatalf("right password while limited: %v", err)
	}
	// Another account from another address is unaffected.
	if _, _, err := svc.Login(ctx, "sam@example.com", pw, "10.0.0.11", "test"); err != nil {
		t.Fatalf("other account: %v", err)
	}
}

func TestTokensNeverExceedTheirUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		if _, _, err := svc.CreateToken(ctx, auth.CLI, "vic@example.com", "x", auth.Admin); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("admin token for a viewer: %v", err)
		}
		secret, _, err := svc.CreateToken(ctx, auth.CLI, "sam@example.com", "bot", auth.Viewer)
		if err != nil {
			t.Fatal(err)
		}
		p, err := svc.TokenPrincipal(ctx, secret)
		if err != nil || p.Role != auth.Viewer {
			t.Fatalf("viewer token of an editor: %+v %v", p, err)
		}
		if _, err := svc.CreateIncident(ctx, p, incident.New{Title: "x"}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer token writing: %v", err)
		}
		// Demoting the user caps an existing editor token at once.
		secret2, _, _ := svc.CreateToken(ctx, auth.CLI, "sam@example.com", "bot2", "")
		viewer := auth.Viewer
		sam, _ := db.FindUserByEmail(ctx, "sam@example.com")
		if _, err := svc.UpdateUser(ctx, auth.CLI, sam.ID, app.UserChange{Role: &viewer}); err != nil {
			t.Fatal(err)
		}
		p, err = svc.TokenPrincipal(ctx, secret2)
		if err != nil || p.Role != auth.Viewer {
			t.Fatalf("token of a demoted user: %+v %v", p, err)
		}
	})
}

func TestTimelineTellsTheStory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		sam := auth.Principal{UserID: 2, Email: "sam@example.com", Role: auth.Editor, Via: "session"}
		discovered := time.Now().Add(-48 * time.Hour).UTC()
		in, err := svc.CreateIncident(ctx, sam, incident.New{Title: "Stolen card numbers", Facts: incident.Facts{DiscoveredAt: &discovered}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.MoveIncident(ctx, sam, in.ID, incident.Contained, "hole plugged"); err != nil {
			t.Fatal(err)
		}
		tl, err := svc.Timeline(ctx, sam, in.ID)
		if err != nil || len(tl) != 3 {
			t.Fatalf("timeline: %+v %v", tl, err)
		}
		if tl[0].Title != "Incident discovered" || tl[1].Actor != "sam@example.com" || tl[2].Title != "Moved the incident from investigating to contained: hole plugged" {
			t.Fatalf("timeline order or words: %+v", tl)
		}
		vic := auth.Principal{UserID: 3, Email: "vic@example.com", Role: auth.Viewer, Via: "session"}
		if _, _, err := svc.Audit(ctx, vic, store.AuditFilter{}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer reading the global audit log: %v", err)
		}
		if entries, _, err := svc.Audit(ctx, vic, store.AuditFilter{IncidentID: in.ID}); err != nil || len(entries) != 2 {
			t.Fatalf("viewer reading the incident's audit log: %d %v", len(entries), err)
		}
	})
}
