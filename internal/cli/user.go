package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
)

const userUsage = `Usage:
  candor user add --email E --role R [--name N]   password from stdin, or prompted
  candor user list
  candor user passwd --email E                    new password from stdin, or prompted
  candor user disable --email E                   ends their sessions, revokes their tokens
  candor user enable --email E

Roles: admin (everything, including users and tokens), approver (edits and
approves notices), editor (opens incidents, records facts, moves states),
responder (reads, answers replies), viewer (reads only).

Examples:
  candor user add --email ana@example.com --role admin
  echo 'a long passphrase here' | candor user add --email sam@example.com --role editor --name "Sam R."`

func runUser(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, userUsage)
		if len(args) == 0 {
			return usagef("say what to do: add, list, passwd, disable or enable")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "user "+sub, userUsage)
	l := config.Register(fs, config.Database)
	var email, role, name *string
	if sub != "list" {
		email = fs.String("email", "", "the user's email address")
	}
	if sub == "add" {
		role = fs.String("role", "", "admin, approver, editor, responder or viewer")
		name = fs.String("name", "", "the user's name, as shown to colleagues")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if email != nil && *email == "" {
		return usagef("--email is required (see candor user --help)")
	}
	switch sub {
	case "add", "list", "passwd", "disable", "enable":
	default:
		return usagef("unknown user command %q; use add, list, passwd, disable or enable", sub)
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "add":
		r, err := auth.ParseRole(*role)
		if err != nil {
			return usagef("--role: %s", apperr.Message(err))
		}
		pw, err := readPassword(env, "Password for "+*email)
		if err != nil {
			return err
		}
		u, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: *email, Name: *name, Role: r, Password: pw})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "added %s (%s), user id %d\n", u.Email, u.Role, u.ID)
	case "list":
		var after int64
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tNAME\tROLE\tSTATUS")
		for {
			us, next, err := svc.Users(ctx, auth.CLI, after, 500)
			if err != nil {
				return err
			}
			for _, u := range us {
				status := "active"
				if u.Disabled {
					status = "disabled"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", u.ID, u.Email, u.Name, u.Role, status)
			}
			if next == 0 {
				break
			}
			after = next
		}
		return tw.Flush()
	case "passwd", "disable", "enable":
		u, err := svc.DB().FindUserByEmail(ctx, strings.ToLower(strings.TrimSpace(*email)))
		if err != nil {
			return err
		}
		var c app.UserChange
		switch sub {
		case "passwd":
			pw, err := readPassword(env, "New password for "+u.Email)
			if err != nil {
				return err
			}
			c.Password = &pw
		case "disable":
			t := true
			c.Disabled = &t
		case "enable":
			f := false
			c.Disabled = &f
		}
		if _, err := svc.UpdateUser(ctx, auth.CLI, u.ID, c); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "%s: done (%s)\n", u.Email, sub)
	}
	return nil
}

// readPassword prompts twice without echo on a terminal, or reads one line
// from a pipe.
func readPassword(env *Env, prompt string) (string, error) {
	if f, ok := env.Stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprintf(env.Stderr, "%s (at least %d characters): ", prompt, auth.MinPassword)
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		fmt.Fprint(env.Stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(env.Stderr)
		if err != nil {
			return "", err
		}
		if string(a) != string(b) {
			return "", usagef("the two passwords differ; try again")
		}
		return string(a), nil
	}
	line, err := bufio.NewReader(env.Stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usagef("no password given: type it at the prompt, or pipe it on stdin (echo '…' | candor user …)")
	}
	return line, nil
}
