package upstream

import (
	"net"
	"syscall"
)

// A peeker tells whether an idle connection is still open: nothing reads a
// pooled connection, so an upstream that closed it (its keep-alive timeout,
// a restart) is found before a request is written to it, by a non-blocking
// peek. Unexpected bytes make it unusable too. It is made once per
// connection, so that a check allocates nothing.
type peeker struct {
	rc   syscall.RawConn
	fn   func(fd uintptr) bool // p.peek, bound once
	open bool
	buf  [1]byte
}

func newPeeker(c net.Conn) *peeker {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	p := &peeker{rc: rc}
	p.fn = p.peek
	return p
}

func (p *peeker) peek(fd uintptr) bool {
	n, _, err := syscall.Recvfrom(int(fd), p.buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	p.open = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK) // nothing to read, not closed
	return true
}

// alive reports whether the connection is still open (true when it cannot
// be checked).
func (p *peeker) alive() bool {
	if p == nil {
		return true
	}
	p.open = false
	return p.rc.Read(p.fn) == nil && p.open
}
