package upstream

import (
	"net"
	"syscall"
)

// alive reports whether an idle connection is still open: nothing reads a
// pooled connection, so an upstream that closed it (its keep-alive timeout,
// a restart) is found here, before a request is written to it, by a
// non-blocking peek. Unexpected bytes make it unusable too.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	ok = false
	var buf [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = n < 0 && (err == syscall.EAGAIN || err == syscall.EWOULDBLOCK) // nothing to read, not closed
		return true
	})
	return err == nil && ok
}
