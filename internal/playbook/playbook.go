// Package playbook owns response packages: the set of notices an incident
// needs — one per audience and channel, each with its planned moment relative
// to the announcement — prepared before a crisis so that on the day the team
// edits and approves instead of writing from nothing. Built-in playbooks are
// embedded and versioned; organisations save their own.
package playbook

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"
)

//go:embed builtin
var builtinFS embed.FS

// Playbook is a prepared response package.
type Playbook struct {
	Key         string `json:"key"`
	Name        string `json:"name"`
	Version     int    `json:"version"`
	Description string `json:"description"`
	Items       []Item `json:"items"`
}

// Item is one prepared notice.
type Item struct {
	Key      string   `json:"key"`
	Title    string   `json:"title"`
	Audience string   `json:"audience"` // an audience kind, e.g. "affected_customers"
	Channels []string `json:"channels"` // "email", "sms", "status_page", …
	// Offset is when the notice goes out relative to the announcement:
	// "0", "-2h" (before), "14h" (after), or "on_resolved" (when the
	// incident is resolved).
	Offset  string `json:"offset"`
	File    string `json:"file,omitempty"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// OnResolved is the offset of notices sent when the incident is resolved.
const OnResolved = "on_resolved"

// ParseOffset returns the offset as a duration; ok is false for event
// offsets such as OnResolved.
func ParseOffset(s string) (d time.Duration, ok bool, err error) {
	if s == OnResolved {
		return 0, false, nil
	}
	if s == "0" || s == "" {
		return 0, true, nil
	}
	d, err = time.ParseDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("offset %q: write a duration relative to the announcement (\"-2h\", \"0\", \"14h\") or %q", s, OnResolved)
	}
	return d, true, nil
}

// DescribeOffset renders an offset for people: "T+14h", "T−2h", "T+0",
// "when resolved".
func DescribeOffset(s string) string {
	d, ok, err := ParseOffset(s)
	switch {
	case err != nil:
		return s
	case !ok:
		return "when resolved"
	case d < 0:
		return "T−" + trimDuration(-d)
	}
	return "T+" + trimDuration(d)
}

func trimDuration(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	s := d.String() // e.g. "14h0m0s", "1h30m0s", "45m0s"
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Builtin returns the built-in playbooks, in a stable order.
func Builtin() ([]Playbook, error) {
	dirs, err := fs.ReadDir(builtinFS, "builtin")
	if err != nil {
		return nil, err
	}
	var out []Playbook
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		p, err := load(builtinFS, path.Join("builtin", d.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// BuiltinByKey returns the built-in playbook with this key.
func BuiltinByKey(key string) (Playbook, bool) {
	all, err := Builtin()
	if err != nil {
		return Playbook{}, false
	}
	for _, p := range all {
		if p.Key == key {
			return p, true
		}
	}
	return Playbook{}, false
}

// load reads playbook.json and each item's Markdown file, whose first line
// is "Subject: …" and the rest the body.
func load(fsys fs.FS, dir string) (Playbook, error) {
	var p Playbook
	raw, err := fs.ReadFile(fsys, path.Join(dir, "playbook.json"))
	if err != nil {
		return p, err
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return p, fmt.Errorf("%s/playbook.json: %w", dir, err)
	}
	for i := range p.Items {
		it := &p.Items[i]
		if _, _, err := ParseOffset(it.Offset); err != nil {
			return p, fmt.Errorf("%s item %s: %w", dir, it.Key, err)
		}
		if it.File == "" {
			continue
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, it.File))
		if err != nil {
			return p, err
		}
		subject, body, ok := strings.Cut(string(text), "\n")
		if !ok || !strings.HasPrefix(subject, "Subject: ") {
			return p, fmt.Errorf("%s/%s: the first line must be \"Subject: …\"", dir, it.File)
		}
		it.Subject = strings.TrimPrefix(subject, "Subject: ")
		it.Body = strings.TrimLeft(body, "\n")
	}
	return p, nil
}

// Key returns a playbook key made from a name ("Ransomware v2" → "ransomware-v2").
func Key(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
