package cli

import (
	"context"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
)

const tokenUsage = `Usage:
  candor token create --email E [--name N] [--role R]   prints the token once
  candor token list
  candor token revoke --id ID

An API token lets a script or another system use the JSON API
(Authorization: Bearer cndr_…). Its role defaults to its user's and can never
exceed it. Only a hash is stored: copy the token when it is printed.`

func runToken(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, tokenUsage)
		if len(args) == 0 {
			return usagef("say what to do: create, list or revoke")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "token "+sub, tokenUsage)
	l := config.Register(fs, config.Database)
	var email, name, role *string
	var id *int64
	switch sub {
	case "create":
		email = fs.String("email", "", "the user the token acts as")
		name = fs.String("name", "API token", "what the token is for, e.g. \"status bot\"")
		role = fs.String("role", "", "the token's role (default: the user's)")
	case "revoke":
		id = fs.Int64("id", 0, "the token's id (see candor token list)")
	case "list":
	default:
		return usagef("unknown token command %q; use create, list or revoke", sub)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if email != nil && *email == "" {
		return usagef("--email is required (see candor token --help)")
	}
	if id != nil && *id <= 0 {
		return usagef("--id is required (see candor token list)")
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "create":
		secret, t, err := svc.CreateToken(ctx, auth.CLI, *email, *name, auth.Role(*role))
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "token %d for %s (%s); it is shown only now:\n", t.ID, t.UserEmail, t.Role)
		fmt.Fprintln(env.Stdout, secret)
	case "list":
		ts, err := svc.Tokens(ctx, auth.CLI)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tNAME\tROLE\tCREATED\tLAST USED\tSTATUS")
		for _, t := range ts {
			used, status := "never", "active"
			if t.LastUsed != nil {
				used = t.LastUsed.Format("2006-01-02 15:04")
			}
			if t.Revoked != nil {
				status = "revoked " + t.Revoked.Format("2006-01-02")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.UserEmail, t.Name, t.Role, t.CreatedAt.Format("2006-01-02 15:04"), used, status)
		}
		return tw.Flush()
	case "revoke":
		t, err := svc.RevokeToken(ctx, auth.CLI, *id)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "revoked token %s (%q of %s)\n", strconv.FormatInt(t.ID, 10), t.Name, t.UserEmail)
	}
	return nil
}
