package cli

import (
	"context"
	"fmt"

	"github.com/candorhq/candor/internal/audit"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
)

type auditBroken struct{ p *audit.Problem }

func (e *auditBroken) Error() string {
	return fmt.Sprintf("the audit log is NOT intact: entry %d was %s (%s)", e.p.Seq, e.p.Kind, e.p.Detail)
}

func runAudit(ctx context.Context, env *Env, args []string) error {
	const usage = `Usage: candor audit verify [--db …]

Walks the whole audit log and checks its hash chain: every entry's hash
covers its content and the previous entry's hash, so an entry edited or
deleted directly in the database breaks the chain at that entry.

Exit code 0 when the chain is intact; 3 naming the first entry that was
altered or removed.`
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprintln(env.Stderr, usage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h") {
			return nil
		}
		return usagef("say what to do: candor audit verify")
	}
	fs := flags(env, "audit verify", usage)
	l := config.Register(fs, config.Database)
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	n, p, err := svc.VerifyAudit(ctx, auth.CLI)
	if err != nil {
		return err
	}
	if p != nil {
		fmt.Fprintf(env.Stdout, "checked %d entries before the break\n", n)
		return &auditBroken{p}
	}
	fmt.Fprintf(env.Stdout, "audit log intact: %d entries checked\n", n)
	return nil
}
