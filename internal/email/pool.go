package email

import (
	"context"
	"errors"
	"sync"
	"time"
)

// maxIdle is how long a pooled conn may wait unused before Get drops it
// rather than risk it: relays close idle sessions, some well before the
// 5 minutes of RFC 5321 4.5.3.2.7, and a dead conn costs a failed send.
const maxIdle = 30 * time.Second

// ErrPoolClosed is returned by Get after Close.
var ErrPoolClosed = errors.New("smtp pool closed")

// Pool keeps up to maxConns sessions to one relay for concurrent senders.
// It is safe for concurrent use.
type Pool struct {
	cfg Config
	sem chan struct{} // a token per conn in use or being dialled

	mu     sync.Mutex
	idle   []*Conn // most recently used last
	closed bool
}

// NewPool returns a pool of at most maxConns (at least 1) sessions with
// cfg. It dials lazily.
func NewPool(cfg Config, maxConns int) *Pool {
	return &Pool{cfg: cfg, sem: make(chan struct{}, max(maxConns, 1))}
}

// Get returns an idle conn, or dials one; it blocks while maxConns are in
// use, until ctx is done. Every conn from Get must go back with Put
// exactly once.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	var stale []*Conn
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, ErrPoolClosed
	}
	var c *Conn
	for len(p.idle) > 0 {
		last := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if time.Since(last.idleSince) < maxIdle {
			c = last
			break
		}
		stale = append(stale, last)
	}
	p.mu.Unlock()
	for _, s := range stale {
		s.Close()
	}
	if c != nil {
		return c, nil
	}
	c, err := Dial(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return c, nil
}

// Put gives c back. A broken conn, one that has sent
// Config.MaxMessagesPerConn messages, or any conn after Close is closed
// instead of kept.
func (p *Pool) Put(c *Conn) {
	defer func() { <-p.sem }()
	if c.Broken() || c.opened != nil || c.cfg.MaxMessagesPerConn > 0 && c.sent >= c.cfg.MaxMessagesPerConn {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.Close()
		return
	}
	c.idleSince = time.Now()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// Close closes the idle conns and makes Get fail; conns in use are closed
// when they are Put back.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	var errs []error
	for _, c := range idle {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}
