package host

import (
	"io"
	"net"
	"sync"
)

// limitListener accepts at most n connections at once: past that, Accept
// waits for one to close and new clients wait in the kernel's queue, so
// 10,000 idle clients cost the host a bounded number of goroutines, buffers
// and descriptors. (Like golang.org/x/net/netutil.LimitListener, a dozen
// lines that do not warrant a dependency.)
type limitListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once
}

func newLimitListener(l net.Listener, n int) *limitListener {
	return &limitListener{Listener: l, sem: make(chan struct{}, n), done: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	return &limitConn{Conn: c, release: func() { <-l.sem }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// ReadFrom lets net/http reach the TCP connection's own ReadFrom, which is
// sendfile for static files: embedding net.Conn hides it.
func (c *limitConn) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.Conn, r) }

// Interface guards: net/http uses sendfile only through io.ReaderFrom.
var (
	_ io.ReaderFrom = (*limitConn)(nil)
	_ io.ReaderFrom = (*headConn)(nil)
)
