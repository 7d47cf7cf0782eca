package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/config"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/email"
)

// emailConfig turns the email settings into the email channel's
// configuration, reading the DKIM key. It says what to fix when a setting
// is missing or wrong.
func emailConfig(c config.Email) (dispatch.EmailConfig, error) {
	if strings.TrimSpace(c.From) == "" {
		return dispatch.EmailConfig{}, fmt.Errorf("--email-from is required to send email, e.g. --email-from \"Example Security <security@example.com>\"")
	}
	from, err := mail.ParseAddress(c.From)
	if err != nil {
		return dispatch.EmailConfig{}, fmt.Errorf("--email-from %q: %v; write it as \"Name <address@example.com>\"", c.From, err)
	}
	_, fromDomain, _ := strings.Cut(from.Address, "@")
	domain := c.Domain
	if domain == "" {
		domain = fromDomain
	}
	helo := c.HeloName
	if helo == "" {
		if helo, err = os.Hostname(); err != nil || helo == "" {
			helo = "localhost"
		}
	}
	ec := dispatch.EmailConfig{
		SMTP: email.Config{Addr: c.SMTPAddr, Security: c.SMTPSecurity, Username: c.SMTPUser, Password: c.SMTPPassword, HeloName: helo,
			NoChunking: !c.Chunking},
		Connections: c.Connections, Rate: c.Rate,
		From:   email.Address{Name: from.Name, Addr: from.Address},
		Domain: domain,
	}
	if c.DKIMSelector != "" || c.DKIMKeyFile != "" {
		if c.DKIMSelector == "" || c.DKIMKeyFile == "" {
			return ec, fmt.Errorf("DKIM needs both --dkim-selector and --dkim-key")
		}
		pem, err := os.ReadFile(c.DKIMKeyFile)
		if err != nil {
			return ec, fmt.Errorf("--dkim-key: %w", err)
		}
		key, err := email.ParsePrivateKey(pem)
		if err != nil {
			return ec, fmt.Errorf("--dkim-key %s: %w", c.DKIMKeyFile, err)
		}
		d := c.DKIMDomain
		if d == "" {
			d = fromDomain
		}
		if ec.DKIM, err = email.NewDKIM(d, c.DKIMSelector, key); err != nil {
			return ec, fmt.Errorf("DKIM: %w", err)
		}
	}
	return ec, nil
}

// startSending runs this process's dispatcher when a relay is configured,
// and returns a function that stops it, letting the messages in flight
// finish and recording them.
func startSending(ctx context.Context, cfg *config.Config, log *slog.Logger, svc *app.Service, reg prometheus.Registerer) (stop func(), err error) {
	if cfg.Email.SMTPAddr == "" {
		log.Warn("email_not_configured", "hint", "set --smtp-addr and --email-from (CANDOR_SMTP_ADDR, CANDOR_EMAIL_FROM) to send email; released notices wait in the ledger until a process with a relay runs")
		return func() {}, nil
	}
	ec, err := emailConfig(cfg.Email)
	if err != nil {
		return nil, usagef("%v", err)
	}
	d := dispatch.New(svc.DB(), log, dispatch.Config{InFlight: cfg.Email.InFlight}, svc.PrepareRelease, dispatch.NewMetrics(reg), dispatch.NewEmailSender(ec, log))
	svc.SetDispatcherWake(d.Wake)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(runCtx); err != nil {
			log.Error("dispatcher_failed", "err", err)
		}
	}()
	log.Info("sending_email", "relay", ec.SMTP.Addr, "security", ec.SMTP.Security, "from", ec.From.Addr, "dkim", ec.DKIM != nil,
		"connections", ec.Connections, "in_flight", cfg.Email.InFlight)
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return func() { cancel(); <-done }, nil
}

// transactionalMail sends one message at a time straight to the relay:
// subscription confirmations and warnings to webhook owners, which are
// not notices and go to one person who just asked for them.
func transactionalMail(ec dispatch.EmailConfig) app.Mail {
	return func(ctx context.Context, to, subject, text string, headers map[string]string) error {
		id := make([]byte, 12)
		rand.Read(id)
		m := email.Message{From: ec.From, To: email.Address{Addr: to}, Subject: subject, Text: text,
			MessageID: "<" + hex.EncodeToString(id) + ".status@" + ec.Domain + ">", Date: time.Now()}
		for _, k := range slices.Sorted(maps.Keys(headers)) {
			m.Headers = append(m.Headers, email.Header{Key: k, Value: headers[k]})
		}
		raw, err := m.AppendTo(nil)
		if err != nil {
			return err
		}
		if ec.DKIM != nil {
			if raw, err = ec.DKIM.Sign(nil, raw); err != nil {
				return err
			}
		}
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		c, err := email.Dial(dctx, ec.SMTP)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Send(ec.From.Addr, []string{to}, raw)
		return err
	}
}
