package apperr_test

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
)

func TestListErr(t *testing.T) {
	a := apperr.Invalid("title", "a title is required")
	b := apperr.Invalid("severity", "unknown severity %q", "huge")
	c := apperr.Invalid("facts.exposed[2]", "unknown data kind")

	t.Run("empty list is no error", func(t *testing.T) {
		var l apperr.List
		if err := l.Err(); err != nil {
			t.Errorf("Err() = %v, want nil", err)
		}
		if err := (apperr.List{}).Err(); err != nil {
			t.Errorf("Err() of an empty non-nil list = %v, want nil", err)
		}
	})
	t.Run("one error is returned as is", func(t *testing.T) {
		err := apperr.List{a}.Err()
		if apperr.As(err) != a {
			t.Errorf("Err() = %#v, want the single error itself", err)
		}
		if f := apperr.Fields(err); len(f) != 1 || f["title"] != "a title is required" {
			t.Errorf("Fields = %v", f)
		}
	})
	t.Run("several errors are summarised and all kept", func(t *testing.T) {
		err := apperr.List{a, b, c}.Err()
		e := apperr.As(err)
		if e == nil || e.Code != apperr.EINVALID || e.Field != "title" {
			t.Fatalf("Err() = %#v, want an invalid error on the first field", err)
		}
		if !strings.HasPrefix(e.Message, a.Message) || !strings.Contains(e.Message, "2 more problems") {
			t.Errorf("message %q should lead with the first problem and count the rest", e.Message)
		}
		want := map[string]string{"title": a.Message, "severity": `unknown severity "huge"`, "facts.exposed[2]": c.Message}
		got := apperr.Fields(err)
		if len(got) != len(want) {
			t.Errorf("Fields = %v, want %v", got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("Fields[%q] = %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("first message per field wins", func(t *testing.T) {
		err := apperr.List{a, apperr.Invalid("title", "second opinion")}.Err()
		if f := apperr.Fields(err); len(f) != 1 || f["title"] != a.Message {
			t.Errorf("Fields = %v, want the first title message only", f)
		}
	})
}

func TestFields(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want map[string]string
	}{
		{"nil", nil, nil},
		{"not an app error", errors.New("boom"), nil},
		{"app error without field", apperr.NotFound("no incident 4"), map[string]string{}},
		{"app error with field", apperr.Invalid("email", "bad"), map[string]string{"email": "bad"}},
		{"wrapped app error", fmt.Errorf("save: %w", apperr.Invalid("email", "bad")), map[string]string{"email": "bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apperr.Fields(tt.err)
			if (got == nil) != (tt.want == nil) || len(got) != len(tt.want) {
				t.Fatalf("Fields = %#v, want %#v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Fields[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestCodeAndMessage(t *testing.T) {
	secret := "pq: password authentication failed for user \"candor\" at 10.0.0.5"
	tests := []struct {
		name     string
		err      error
		code     string
		message  string
		notInMsg string
	}{
		{"nil", nil, "", "", ""},
		{"invalid", apperr.Invalid("title", "a title is required"), apperr.EINVALID, "a title is required", ""},
		{"not found", apperr.NotFound("no incident %d", 4), apperr.ENOTFOUND, "no incident 4", ""},
		{"conflict", apperr.Conflict("version %d is stale", 2), apperr.ECONFLICT, "version 2 is stale", ""},
		{"forbidden", apperr.Forbidden("viewers cannot edit"), apperr.EFORBIDDEN, "viewers cannot edit", ""},
		{"wrapped app error keeps its code", fmt.Errorf("store: %w", apperr.NotFound("no user")), apperr.ENOTFOUND, "no user", "store"},
		{"plain error is internal and hidden", errors.New(secret), apperr.EINTERNAL, "", secret},
		{"wrapped plain error is hidden", fmt.Errorf("open db: %w", sql.ErrConnDone), apperr.EINTERNAL, "", "sql:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apperr.Code(tt.err); got != tt.code {
				t.Errorf("Code = %q, want %q", got, tt.code)
			}
			if tt.err == nil {
				return
			}
			msg := apperr.Message(tt.err)
			if tt.message != "" && msg != tt.message {
				t.Errorf("Message = %q, want %q", msg, tt.message)
			}
			if tt.code == apperr.EINTERNAL {
				if msg == "" || strings.Contains(msg, "password") || strings.Contains(msg, "10.0.0.5") {
					t.Errorf("Message = %q: internal errors need a generic, non-empty message", msg)
				}
			}
			if tt.notInMsg != "" && strings.Contains(msg, tt.notInMsg) {
				t.Errorf("Message %q leaks %q", msg, tt.notInMsg)
			}
		})
	}
}

func TestAs(t *testing.T) {
	if apperr.As(nil) != nil || apperr.As(errors.New("x")) != nil {
		t.Error("As of a non-app error should be nil")
	}
	e := apperr.Conflict("stale")
	if apperr.As(fmt.Errorf("a: %w", fmt.Errorf("b: %w", e))) != e {
		t.Error("As does not unwrap")
	}
}

func TestErrorString(t *testing.T) {
	if got := apperr.Invalid("title", "required").Error(); got != "invalid: title: required" {
		t.Errorf("Error() = %q", got)
	}
	if got := apperr.NotFound("no incident 4").Error(); got != "not_found: no incident 4" {
		t.Errorf("Error() = %q", got)
	}
}

func TestFlatten(t *testing.T) {
	if apperr.Flatten(nil) != nil {
		t.Error("nil")
	}
	one := apperr.Invalid("title", "empty")
	if l := apperr.Flatten(one); len(l) != 1 || l[0] != one {
		t.Errorf("one: %v", l)
	}
	two := apperr.List{apperr.Invalid("a", "x"), apperr.Invalid("b", "y")}.Err()
	if l := apperr.Flatten(two); len(l) != 2 || l[1].Field != "b" {
		t.Errorf("list: %v", l)
	}
	if l := apperr.Flatten(errors.New("boom")); len(l) != 1 || l[0].Code != apperr.EINVALID || l[0].Message != "boom" {
		t.Errorf("plain error: %v", l)
	}
}
