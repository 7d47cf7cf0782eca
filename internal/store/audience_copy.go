package store

import (
	"context"
	"fmt"
	"hash/maphash"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/candorhq/candor/internal/audience"
)

// Sizes of copyIntoEmpty's bookkeeping, variables so that tests can make
// them small enough to exercise every path.
var (
	// copyBloomBits is the size of the filter of keys already sent: 8 MiB,
	// which mistakes about one key in 400 for a repeat at a million rows
	// and one in 25 at ten million. A mistake only costs a lookup.
	copyBloomBits = 1 << 26
	// copyHeldMax is how many possibly repeated rows wait before the copy
	// pauses to merge them.
	copyHeldMax = 5000
)

// copyIntoEmpty stores an import into a PostgreSQL audience that held
// nobody when the import began (the import holds the audience's lock, so
// it stays that way): the usual first import of a list. Every row is then
// new unless the file repeats it, so rows stream into recipients through
// one COPY, without asking the database which of them exist; PostgreSQL is
// kept busy while the next rows are parsed. A Bloom filter remembers the
// keys sent so far. A row whose key it may have seen — a repeat in the
// file, or rarely a false positive — is held back; when the copy ends, or
// copyHeldMax rows are held, the copy pauses and the held rows go through
// the writer's probe-and-update path, which merges each onto the row
// already stored, in file order. Memory stays bounded: the filter has a
// fixed size and at most copyHeldMax rows wait.
func copyIntoEmpty(ctx context.Context, w *postgresWriter, src RecipientBatches) error {
	s := &streamSource{src: src, w: w, bloom: make([]uint64, copyBloomBits/64), seed: maphash.MakeSeed(), heldIdx: map[string]int{}}
	for {
		if err := w.copy(ctx, s); err != nil {
			if s.err != nil {
				return s.err
			}
			return fmt.Errorf("store recipients: %w", err)
		}
		if s.err != nil {
			return s.err
		}
		if len(s.held) > 0 {
			if err := w.write(ctx, s.held); err != nil {
				return fmt.Errorf("store recipients: %w", err)
			}
			s.held = s.held[:0]
			clear(s.heldIdx)
		}
		if s.eof {
			return nil
		}
	}
}

// streamSource feeds one COPY from an import's batches, holding back the
// rows whose key may have been sent already.
type streamSource struct {
	src     RecipientBatches
	w       *postgresWriter
	batch   []audience.Recipient
	i       int
	eof     bool
	err     error
	cur     *audience.Recipient
	bloom   []uint64
	seed    maphash.Seed
	held    []audience.Recipient
	heldIdx map[string]int
	row     [11]any
}

func (s *streamSource) Next() bool {
	for len(s.held) < copyHeldMax {
		if s.i >= len(s.batch) {
			if s.eof {
				return false
			}
			b, err := s.src.Next()
			if err == io.EOF {
				s.eof = true
				return false
			}
			if err != nil {
				s.err = err
				return false
			}
			s.batch, s.i = b, 0
			continue
		}
		r := &s.batch[s.i]
		s.i++
		// Emails and phones live in different indexes: tag them apart.
		key := "e" + r.Email
		if r.Email == "" {
			key = "p" + r.Phone
		}
		if s.seen(key) {
			if j, ok := s.heldIdx[key]; ok {
				audience.Merge(&s.held[j], *r)
			} else {
				s.heldIdx[key] = len(s.held)
				s.held = append(s.held, *r)
			}
			continue
		}
		s.cur = r
		return true
	}
	return false
}

// seen reports whether key may have been added before, and adds it.
func (s *streamSource) seen(key string) bool {
	h := maphash.String(s.seed, key)
	h1, h2 := uint32(h), uint32(h>>32)|1
	m := uint32(len(s.bloom) * 64)
	all := true
	for i := range uint32(4) {
		bit := (h1 + i*h2) % m
		word, mask := bit/64, uint64(1)<<(bit%64)
		if s.bloom[word]&mask == 0 {
			all = false
			s.bloom[word] |= mask
		}
	}
	return all
}

func (s *streamSource) Err() error { return s.err }

func (s *streamSource) Values() ([]any, error) {
	r := s.cur
	s.row = [11]any{s.w.audienceID, nullString(r.Email), r.Phone, r.Name, r.Locale, r.Jurisdiction, r.ExternalID,
		encodeKinds(r.Exposed), encodeAttributes(r.Attributes), s.w.now, s.w.now}
	return s.row[:], nil
}

// copy sends the rows of src into recipients with COPY, on the
// transaction's connection.
func (w *postgresWriter) copy(ctx context.Context, src pgx.CopyFromSource) error {
	return w.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		if _, err := c.Conn().CopyFrom(ctx, pgx.Identifier{"recipients"}, copyColumns, src); err != nil {
			return fmt.Errorf("copy recipients: %w", err)
		}
		return nil
	})
}
