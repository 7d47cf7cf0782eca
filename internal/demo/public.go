package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
)

// seedPublic puts the incident on the status page as the team would have
// by the evening of day one: linkLINE's services, the two updates posted
// so far (the first backdated to when the page went up), and the approved
// website Q&A.
func seedPublic(ctx context.Context, svc *app.Service, in incident.Incident, users map[auth.Role]auth.Principal) error {
	admin, marc := users[auth.Admin], users[auth.Approver]
	var comps []status.Component
	for _, c := range []status.Component{
		{Name: "Internet access", Description: "Fibre and DSL connections"},
		{Name: "Customer portal", Description: "my.linkline.example: sign-in, invoices, settings"},
		{Name: "Billing and payments", Description: "Invoices, card and direct-debit payments"},
		{Name: "Email", Description: "linkLINE mailboxes and webmail"},
	} {
		c, err := svc.CreateComponent(ctx, admin, c)
		if err != nil {
			return fmt.Errorf("seed service %q: %w", c.Name, err)
		}
		comps = append(comps, c)
	}
	if err := svc.SetIncidentComponents(ctx, marc, in.ID, []status.Affected{
		{Component: comps[1], Status: status.DegradedPerformance},
		{Component: comps[2], Status: status.PartialOutage},
	}); err != nil {
		return err
	}
	now := svc.Now().UTC().Truncate(time.Minute)
	if _, err := svc.PublishUpdate(ctx, marc, in.ID, app.UpdateRequest{
		Status: incident.Investigating, DisplayAt: now.Add(-20 * time.Hour),
		Body: "Someone copied card details of linkLINE subscribers from our billing system and is threatening to publish them. " +
			"We have called in outside investigators and informed the police. We will post here again within six hours.",
		WhatToDo: "Do not answer emails or calls asking for your card details: we will never ask for them.",
		Translations: map[string]status.Text{
			"fr": {Body: "Quelqu'un a copié les données de carte d'abonnés linkLINE dans notre système de facturation et menace de les publier. " +
				"Nous avons fait appel à des enquêteurs externes et prévenu la police. Prochaine mise à jour ici dans six heures au plus tard.",
				WhatToDo: "Ne répondez à aucun courriel ou appel qui vous demande vos données de carte : nous ne les demanderons jamais."},
			"es": {Body: "Alguien copió datos de tarjetas de abonados de linkLINE de nuestro sistema de facturación y amenaza con publicarlos. " +
				"Hemos llamado a investigadores externos e informado a la policía. Publicaremos aquí de nuevo en un máximo de seis horas.",
				WhatToDo: "No responda a correos ni llamadas que le pidan los datos de su tarjeta: nunca se los pediremos."},
		},
	}); err != nil {
		return fmt.Errorf("seed the first update: %w", err)
	}
	if _, err := svc.PublishUpdate(ctx, marc, in.ID, app.UpdateRequest{
		Status: incident.Contained,
		Body: "We found how they got in — an old billing export script — and removed it. Card numbers and expiry dates of **14,872 subscribers** were copied; " +
			"security codes (CVV) and passwords were never stored there. Every affected subscriber is receiving an email from us today.\n\n" +
			"We will not pay the extortionist. Card payments are paused while our card processor blocks and reissues the affected cards.",
		WhatToDo: "Check your card statements for payments you do not recognise and report them to your bank. Your bank will send you a new card; you do not need to do anything to get it.",
		Translations: map[string]status.Text{
			"fr": {Body: "Nous avons trouvé comment ils sont entrés — un ancien script d'export de facturation — et l'avons supprimé. Les numéros et dates d'expiration des cartes de **14 872 abonnés** ont été copiés ; " +
				"les codes de sécurité (CVV) et les mots de passe n'y ont jamais été stockés. Chaque abonné concerné reçoit un courriel de notre part aujourd'hui.",
				WhatToDo: "Vérifiez vos relevés de carte et signalez à votre banque tout paiement que vous ne reconnaissez pas."},
		},
	}); err != nil {
		return fmt.Errorf("seed the second update: %w", err)
	}
	// The website Q&A was approved with the response package; publish it.
	ns, err := svc.Notices(ctx, marc, in.ID)
	if err != nil {
		return err
	}
	for _, n := range ns {
		if n.ItemKey == "website-qa" {
			if _, _, err := svc.ReleaseNotice(ctx, marc, n.ID, app.ReleaseRequest{Channel: notice.ChannelStatusPage}); err != nil {
				return fmt.Errorf("publish the website Q&A: %w", err)
			}
		}
	}
	return nil
}
