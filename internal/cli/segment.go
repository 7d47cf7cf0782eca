package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/config"
)

const segmentUsage = `Usage:
  candor segment count --audience ID --rule JSON     how many members a rule matches
  candor segment count --audience ID --segment ID    … or a saved segment
  candor segment create --incident ID --name NAME --rule JSON [--description TEXT]
  candor segment list --incident ID

A segment is a rule over recipients, so that one audience can get different
wording. A rule is JSON: a condition

  {"field": "exposed", "op": "includes", "value": "card_number"}
  {"field": "jurisdiction", "op": "in", "values": ["US-CA", "US-NV"]}
  {"field": "locale", "op": "starts_with", "value": "fr"}
  {"field": "attribute", "attribute": "plan", "op": "equals", "value": "business"}

or a combination: {"all": [rules]}, {"any": [rules]}, {"not": rule}.
Fields: email, phone, name, locale, jurisdiction, external_id, exposed,
attribute. Operators: equals, in, starts_with, ends_with, is_set, and for
exposed: includes. Text compares without regard to case.

Examples:
  candor segment count --audience 3 --rule '{"field":"exposed","op":"includes","value":"card_number"}'
  candor segment create --incident 1 --name "Card and expiry" \
    --rule '{"all":[{"field":"exposed","op":"includes","value":"card_number"},{"field":"exposed","op":"includes","value":"card_expiry"}]}'

Exit codes: 0 ok, 1 the rule or input was refused (the message names the
part at fault, e.g. rule.all[1].value), 2 wrong usage, 4 no such audience,
incident or segment.`

func runSegment(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" {
		fmt.Fprintln(env.Stderr, segmentUsage)
		if len(args) == 0 {
			return usagef("say what to do: count, create or list")
		}
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	fs := flags(env, "segment "+sub, segmentUsage)
	l := config.Register(fs, config.Database)
	var audienceID, segmentID, incidentID *int64
	var ruleText, name, description *string
	switch sub {
	case "count":
		audienceID = fs.Int64("audience", 0, "the audience whose members are counted")
		ruleText = fs.String("rule", "", "the rule, as JSON")
		segmentID = fs.Int64("segment", 0, "a saved segment, instead of --rule")
	case "create":
		incidentID = fs.Int64("incident", 0, "the incident the segment belongs to")
		name = fs.String("name", "", "the segment's name")
		description = fs.String("description", "", "what the segment is for")
		ruleText = fs.String("rule", "", "the rule, as JSON")
	case "list":
		incidentID = fs.Int64("incident", 0, "the incident whose segments to list")
	default:
		return usagef("unknown segment command %q; use count, create or list", sub)
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	var rule audience.Rule
	switch {
	case sub == "count" && *audienceID <= 0:
		return usagef("--audience is required (find it with candor audience list --incident ID)")
	case sub == "count" && (*ruleText == "") == (*segmentID <= 0):
		return usagef("give --rule JSON or --segment ID")
	case sub != "count" && *incidentID <= 0:
		return usagef("--incident is required")
	case sub == "create" && *ruleText == "":
		return usagef("--rule is required (see candor segment --help)")
	}
	if ruleText != nil && *ruleText != "" {
		dec := json.NewDecoder(strings.NewReader(*ruleText))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rule); err != nil {
			return usagef("--rule is not a rule in JSON: %v (see candor segment --help)", err)
		}
	}
	_, _, svc, done, err := setup(ctx, env, l, false)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "count":
		if *segmentID > 0 {
			sg, err := svc.Segment(ctx, auth.CLI, *segmentID)
			if err != nil {
				return err
			}
			rule = sg.Rule
		}
		c, err := svc.CountMatches(ctx, auth.CLI, *audienceID, rule)
		if err != nil {
			return ruleError(err)
		}
		fmt.Fprintf(env.Stdout, "%s of %s members match: %s\n", group(c.Matching), group(c.Members), rule)
	case "create":
		sg, err := svc.CreateSegment(ctx, auth.CLI, audience.NewSegment{IncidentID: *incidentID, Name: *name, Description: *description, Rule: rule})
		if err != nil {
			return ruleError(err)
		}
		fmt.Fprintf(env.Stdout, "created segment %d, %q: %s\n", sg.ID, sg.Name, sg.Rule)
	case "list":
		sgs, err := svc.Segments(ctx, auth.CLI, *incidentID)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tRULE")
		for _, sg := range sgs {
			fmt.Fprintf(tw, "%d\t%s\t%s\n", sg.ID, sg.Name, sg.Rule)
		}
		return tw.Flush()
	}
	return nil
}

// ruleError names the rule's part at fault the way --rule reads.
func ruleError(err error) error {
	if e := apperr.As(err); e != nil && e.Code == apperr.EINVALID && strings.HasPrefix(e.Field, "rule") {
		return &apperr.Error{Code: e.Code, Field: "--rule " + e.Field, Message: e.Message}
	}
	return err
}
