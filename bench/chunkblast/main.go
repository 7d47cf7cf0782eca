// Command chunkblast is a sender that does no work, like
// ../shared/tools/smtpblast, but sends each message the way Candor does to a
// relay that offers CHUNKING: MAIL, RCPT, "BDAT n LAST" and the message in
// one write (RFC 3030 with RFC 2920 pipelining), then reads the three
// replies. It gives the loopback ceiling for that way of sending, so Candor
// can be compared with it as well as with smtpblast's DATA.
//
//	go run ./bench/chunkblast -addr 127.0.0.1:2525 -conns 20 -n 100000 -size 8800
package main

import (
	"bufio"
	"flag"
	"fmt"
	"log"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:2525", "the SMTP server (smtpsink)")
	conns := flag.Int("conns", 20, "connections")
	n := flag.Int("n", 100000, "messages in all")
	size := flag.Int("size", 4800, "body bytes of each message")
	batch := flag.Int("batch", 1, "messages sent in one write before their replies are read")
	rset := flag.Bool("rset", false, "send RSET after each message of a batch but the last")
	flag.Parse()

	line := strings.Repeat("y", 76) + "\r\n"
	body := strings.Repeat(line, max(1, *size/len(line)))
	var next, sent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range *conns {
		wg.Go(func() {
			if err := blast(*addr, body, *n, max(1, *batch), *rset, &next, &sent); err != nil {
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	fmt.Printf("conns=%d bdat=true size=%d msgs=%d elapsed=%s rate=%.0f msg/s\n",
		*conns, len(body), sent.Load(), took.Round(time.Millisecond), float64(sent.Load())/took.Seconds())
}

func blast(addr, body string, n, batch int, rset bool, next, sent *atomic.Int64) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	r, w := bufio.NewReader(c), bufio.NewWriterSize(c, 64<<10)
	reply := func(want string) error {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if !strings.HasPrefix(l, want) {
				return fmt.Errorf("got %q, want %s", l, want)
			}
			if len(l) < 4 || l[3] != '-' {
				return nil
			}
		}
	}
	if err := reply("220"); err != nil {
		return err
	}
	fmt.Fprintf(w, "EHLO chunkblast\r\n")
	w.Flush()
	if err := reply("250"); err != nil {
		return err
	}
	for done := false; !done; {
		k := 0
		for k < batch {
			i := next.Add(1)
			if i > int64(n) {
				done = true
				break
			}
			msg := fmt.Sprintf("From: a@example.test\r\nTo: u%d@example.test\r\nSubject: notice %d\r\n\r\n%s", i, i, body)
			if rset && k > 0 {
				fmt.Fprintf(w, "RSET\r\n")
			}
			fmt.Fprintf(w, "MAIL FROM:<a@example.test>\r\nRCPT TO:<u%d@example.test>\r\nBDAT %d LAST\r\n%s", i, len(msg), msg)
			k++
		}
		if err := w.Flush(); err != nil {
			return err
		}
		replies := 3 * k
		if rset && k > 0 {
			replies += k - 1
		}
		for range replies {
			if err := reply("250"); err != nil {
				return err
			}
		}
		sent.Add(int64(k))
	}
	fmt.Fprintf(w, "QUIT\r\n")
	w.Flush()
	return reply("221")
}
