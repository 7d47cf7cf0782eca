package app

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/webhook"
)

// Mail sends one transactional email (a subscription confirmation, a
// webhook owner's warning) straight to the relay.
type Mail func(ctx context.Context, to, subject, text string, headers map[string]string) error

// PublicOptions configure the public side's links and mail.
type PublicOptions struct {
	// URL is the status page's public address, without a trailing slash
	// ("https://status.example.com/status").
	URL string
	// Mail sends confirmations; nil refuses subscriptions.
	Mail Mail
	// AllowPrivateWebhooks lets webhooks reach loopback and private
	// addresses (tests, demos, an internal marketing system).
	AllowPrivateWebhooks bool
}

// SetPublic configures the public side.
func (s *Service) SetPublic(opt PublicOptions) { s.public = opt }

// Token purposes.
const (
	purposeConfirm     = 'c'
	purposeUnsubscribe = 'u'
)

// subscriptionToken signs a subscriber id for one purpose. It needs no
// storage and cannot be guessed: 8 bytes of id, the purpose, and 16 bytes
// of HMAC-SHA256 under a key kept in the database.
func (s *Service) subscriptionToken(ctx context.Context, purpose byte, id int64) (string, error) {
	key, err := s.db.PublicTokenKey(ctx)
	if err != nil {
		return "", err
	}
	b := make([]byte, 9, 25)
	binary.BigEndian.PutUint64(b, uint64(id))
	b[8] = purpose
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return base64.RawURLEncoding.EncodeToString(m.Sum(b)[:25]), nil
}

func (s *Service) verifyToken(ctx context.Context, purpose byte, tok string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(tok))
	if err != nil || len(b) != 25 || b[8] != purpose {
		return 0, apperr.Invalid("t", "the link is incomplete or damaged")
	}
	key, err := s.db.PublicTokenKey(ctx)
	if err != nil {
		return 0, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(b[:9])
	if !hmac.Equal(m.Sum(nil)[:16], b[9:]) {
		return 0, apperr.Invalid("t", "the link is incomplete or damaged")
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// UnsubscribeURL is the one-click unsubscribe address of a subscriber.
func (s *Service) UnsubscribeURL(ctx context.Context, id int64) (string, error) {
	tok, err := s.subscriptionToken(ctx, purposeUnsubscribe, id)
	if err != nil {
		return "", err
	}
	return s.public.URL + "/unsubscribe?t=" + tok, nil
}

// Subscribe records a pending subscription and emails a confirmation
// link (double opt-in). It answers the same whether the address is new,
// pending or already confirmed, so that nobody can learn who subscribed.
func (s *Service) Subscribe(ctx context.Context, address, locale, webhookURL string) error {
	if s.public.Mail == nil {
		return errors.New("this status page cannot send email, so it takes no subscriptions; configure --smtp-addr")
	}
	addr, err := auth.NormalizeEmail(address)
	if err != nil {
		return err
	}
	kind, secret := store.SubscriberEmail, ""
	if webhookURL != "" {
		if err := webhook.ValidateURL(webhookURL, s.public.AllowPrivateWebhooks); err != nil {
			return apperr.Invalid("webhook_url", "%v", err)
		}
		kind = store.SubscriberWebhook
		if secret, err = webhook.NewSecret(); err != nil {
			return err
		}
	}
	sub, err := s.db.AddSubscriber(ctx, kind, addr, webhookURL, locale, secret, store.SubPending)
	if err != nil {
		return err
	}
	var subject, text string
	switch {
	case sub.State == store.SubConfirmed && kind == store.SubscriberEmail:
		subject = "You are already subscribed to " + s.company.Name + " status updates"
		text = "Someone (probably you) asked to subscribe this address to updates from " + s.public.URL + ".\n\nIt is already subscribed: there is nothing to do."
	case sub.State == store.SubConfirmed:
		subject = "Your webhook is already subscribed to " + s.company.Name + " status updates"
		text = "Someone (probably you) asked to send updates from " + s.public.URL + " to " + webhookURL + ".\n\nThat webhook is already subscribed: there is nothing to do."
	default:
		tok, err := s.subscriptionToken(ctx, purposeConfirm, sub.ID)
		if err != nil {
			return err
		}
		link := s.public.URL + "/confirm?t=" + tok
		if kind == store.SubscriberEmail {
			subject = "Confirm your subscription to " + s.company.Name + " status updates"
			text = "Someone (probably you) asked to receive updates from " + s.public.URL + " at this address.\n\nTo confirm, open this link:\n\n" + link + "\n\nIf it was not you, ignore this message: nothing will be sent."
		} else {
			subject = "Confirm your webhook for " + s.company.Name + " status updates"
			text = "Someone (probably you) asked to POST updates from " + s.public.URL + " to\n\n  " + webhookURL + "\n\nTo confirm, open this link:\n\n" + link +
				"\n\nEach request is signed per the Standard Webhooks specification (headers webhook-id, webhook-timestamp, webhook-signature) with this secret:\n\n  " + secret +
				"\n\nKeep it private. If it was not you, ignore this message: nothing will be sent."
		}
	}
	if err := s.public.Mail(ctx, addr, subject, text, nil); err != nil {
		s.log.Error("subscription_mail", "subscriber", sub.ID, "err", err)
		return fmt.Errorf("send the confirmation email: %w", err)
	}
	s.log.Info("subscription_requested", "subscriber", sub.ID, "kind", kind, "state", sub.State)
	return nil
}

// Confirm confirms the subscription a confirmation link names.
func (s *Service) Confirm(ctx context.Context, tok string) error {
	id, err := s.verifyToken(ctx, purposeConfirm, tok)
	if err != nil {
		return err
	}
	unsub, err := s.UnsubscribeURL(ctx, id)
	if err != nil {
		return err
	}
	sub, err := s.db.ConfirmSubscriber(ctx, id, func(store.Subscriber) map[string]string {
		return map[string]string{"unsubscribe_url": unsub}
	})
	if err != nil {
		return err
	}
	s.log.Info("subscription_confirmed", "subscriber", sub.ID, "kind", sub.Kind)
	return nil
}

// Unsubscribe ends the subscription an unsubscribe link names. Queued
// update emails to the address are cancelled.
func (s *Service) Unsubscribe(ctx context.Context, tok string) error {
	id, err := s.verifyToken(ctx, purposeUnsubscribe, tok)
	if err != nil {
		return err
	}
	sub, err := s.db.EndSubscription(ctx, id, store.SubUnsubscribed, "")
	if err != nil {
		return err
	}
	s.log.Info("unsubscribed", "subscriber", sub.ID, "kind", sub.Kind)
	return nil
}

// Subscribers lists subscribers of a kind ("" for all) for the admin side.
func (s *Service) Subscribers(ctx context.Context, p auth.Principal, kind string) ([]store.Subscriber, error) {
	if err := p.Require(auth.ManagePublic); err != nil {
		return nil, err
	}
	subs, err := s.db.FindSubscribers(ctx, kind, "")
	for i := range subs {
		subs[i].Secret = ""
	}
	return subs, err
}

// SubscriberCounts counts subscribers by kind and state.
func (s *Service) SubscriberCounts(ctx context.Context, p auth.Principal) (map[string]map[string]int64, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.SubscriberCounts(ctx)
}

// RegisterQuietWebhook registers a system (a marketing tool) to be told,
// by a signed webhook, when the quiet period starts and ends. It returns
// the subscription with its signing secret, shown once.
func (s *Service) RegisterQuietWebhook(ctx context.Context, p auth.Principal, owner, url string) (store.Subscriber, error) {
	if err := p.Require(auth.ManagePublic); err != nil {
		return store.Subscriber{}, err
	}
	addr, err := auth.NormalizeEmail(owner)
	if err != nil {
		return store.Subscriber{}, apperr.Invalid("owner", "%s", apperr.As(err).Message)
	}
	if err := webhook.ValidateURL(url, s.public.AllowPrivateWebhooks); err != nil {
		return store.Subscriber{}, apperr.Invalid("url", "%v", err)
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return store.Subscriber{}, err
	}
	sub, err := s.db.AddQuietSubscriber(ctx, p, addr, url, secret)
	if err != nil {
		return sub, err
	}
	s.publicChanged()
	return sub, nil
}

// WebhookDeliveries lists recent webhook deliveries.
func (s *Service) WebhookDeliveries(ctx context.Context, p auth.Principal, subscriberID int64) ([]store.WebhookDelivery, error) {
	if err := p.Require(auth.ManagePublic); err != nil {
		return nil, err
	}
	return s.db.FindWebhookDeliveries(ctx, subscriberID, 100)
}

// ImportSubscriber adds a confirmed subscriber without the confirmation
// email: for subscribers who already opted in elsewhere (moving from
// another status page) and for the demo. Admins only; audited by the
// caller's log line.
func (s *Service) ImportSubscriber(ctx context.Context, p auth.Principal, kind, address, locale, webhookURL string) (store.Subscriber, error) {
	if err := p.Require(auth.ManagePublic); err != nil {
		return store.Subscriber{}, err
	}
	addr, err := auth.NormalizeEmail(address)
	if err != nil {
		return store.Subscriber{}, err
	}
	secret := ""
	if kind != store.SubscriberEmail {
		if err := webhook.ValidateURL(webhookURL, s.public.AllowPrivateWebhooks); err != nil {
			return store.Subscriber{}, apperr.Invalid("url", "%v", err)
		}
		if secret, err = webhook.NewSecret(); err != nil {
			return store.Subscriber{}, err
		}
	}
	sub, err := s.db.AddSubscriber(ctx, kind, addr, webhookURL, locale, secret, store.SubPending)
	if err != nil {
		return sub, err
	}
	unsub, err := s.UnsubscribeURL(ctx, sub.ID)
	if err != nil {
		return sub, err
	}
	sub, err = s.db.ConfirmSubscriber(ctx, sub.ID, func(store.Subscriber) map[string]string { return map[string]string{"unsubscribe_url": unsub} })
	if err != nil {
		return sub, err
	}
	s.log.Info("subscriber_imported", "subscriber", sub.ID, "kind", kind, "by", p.Label())
	return sub, nil
}
