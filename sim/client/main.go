// The flyctl the tests and the sandbox run: a small client that forwards one call to the
// simulator's long-lived server (sim/lib/flyctl-server.js) over the state directory's unix socket,
// so a call costs a connection instead of a node process. From the caller's point of view it is
// the old `node sim/bin/flyctl` process: same stdout and stderr (kept apart), stdin forwarded,
// SIGINT/SIGTERM interrupt the command (exit 127, or forced after the same grace), the command's
// exit code, and this pid lives exactly as long as the command runs. With no server (none
// started, or already stopped) it execs the node simulator in its place (same pid, same argv).
//
// Wire format, both directions: frames of one type byte, a 4-byte big-endian length, the payload.
// Client to server: 'H' the call as JSON {argv, env, cwd, pid}, 'I' stdin bytes, 'E' stdin ended,
// 'S' interrupted. Server to client: 'O' stdout bytes, 'R' stderr bytes, 'X' exit code (decimal).
// The socket closing before 'X' means the other side is gone.
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Set at build time (scripts/flyctl-client.sh): the node simulator to exec when there is no server.
var nodeFlyctl = ""

const (
	exitInterrupted = 127
	// As sim/lib/interrupts.js: in-flight work gets this long to record an interruption.
	interruptGrace = 1500 * time.Millisecond
	// Unix socket paths are limited to about 104-108 bytes (sim/lib/flyctl-service.js uses the same rule).
	maxSocketPath = 100
)

// socketPath must agree with serverSocketPath in sim/lib/flyctl-service.js.
func socketPath(dir string) string {
	inDir := filepath.Join(dir, "flyctl.sock")
	if len(inDir) <= maxSocketPath {
		return inDir
	}
	sum := sha256.Sum256([]byte(dir))
	return filepath.Join("/tmp", "fly-sim-"+hex.EncodeToString(sum[:])[:16]+".sock")
}

type frameWriter struct {
	mu   sync.Mutex
	conn net.Conn
}

func (w *frameWriter) send(kind byte, payload []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	header := make([]byte, 5)
	header[0] = kind
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	if _, err := w.conn.Write(append(header, payload...)); err != nil {
		return err
	}
	return nil
}

func main() {
	// Before anything else, so an early signal is handled like a later one.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)

	conn := connect()
	if conn == nil {
		signal.Reset()
		execNode()
		return
	}
	os.Exit(forward(conn, signals))
}

func connect() net.Conn {
	dir := os.Getenv("FLY_SIM_DIR")
	if dir == "" {
		return nil
	}
	absolute, err := filepath.Abs(dir)
	if err != nil {
		return nil
	}
	conn, err := net.Dial("unix", socketPath(absolute))
	if err != nil {
		return nil
	}
	return conn
}

func execNode() {
	if nodeFlyctl == "" {
		fmt.Fprintln(os.Stderr, "Error: the flyctl simulator's server is not running and this client was built without the path of sim/bin/flyctl")
		os.Exit(1)
	}
	argv := append([]string{nodeFlyctl}, os.Args[1:]...)
	err := syscall.Exec(nodeFlyctl, argv, os.Environ())
	fmt.Fprintf(os.Stderr, "Error: could not start the flyctl simulator %s: %v\n", nodeFlyctl, err)
	os.Exit(1)
}

func forward(conn net.Conn, signals chan os.Signal) int {
	writer := &frameWriter{conn: conn}
	cwd, _ := os.Getwd()
	call, _ := json.Marshal(map[string]any{"argv": os.Args[1:], "env": os.Environ(), "cwd": cwd, "pid": os.Getpid()})
	if err := writer.send('H', call); err != nil {
		fmt.Fprintf(os.Stderr, "Error: the flyctl simulator's server refused the call: %v\n", err)
		return 1
	}
	go forwardStdin(writer)

	exitCodes := make(chan int, 1)
	go readFrames(conn, exitCodes)

	var forcedExit <-chan time.Time
	interrupted := false
	for {
		select {
		case code := <-exitCodes:
			if code < 0 {
				// The server went away without an answer (killed): like a call whose simulator
				// was abandoned, this one ends interrupted.
				if !interrupted {
					fmt.Fprintln(os.Stderr, "the flyctl simulator's server stopped during this call")
				}
				return exitInterrupted
			}
			return code
		case <-signals:
			if interrupted {
				continue
			}
			interrupted = true
			_ = writer.send('S', nil)
			forcedExit = time.After(interruptGrace)
		case <-forcedExit:
			// Like the node simulator's forced exit: the server sees the socket close before its
			// answer and drops whatever the command still does.
			return exitInterrupted
		}
	}
}

func forwardStdin(writer *frameWriter) {
	buffer := make([]byte, 32*1024)
	for {
		n, err := os.Stdin.Read(buffer)
		if n > 0 {
			if writer.send('I', buffer[:n]) != nil {
				return
			}
		}
		if err != nil {
			_ = writer.send('E', nil)
			return
		}
	}
}

// readFrames copies output frames to stdout and stderr and sends the exit code (-1: the server
// went away without one).
func readFrames(conn net.Conn, exitCodes chan<- int) {
	reader := bufio.NewReaderSize(conn, 64*1024)
	header := make([]byte, 5)
	for {
		if _, err := io.ReadFull(reader, header); err != nil {
			exitCodes <- -1
			return
		}
		payload := make([]byte, binary.BigEndian.Uint32(header[1:]))
		if _, err := io.ReadFull(reader, payload); err != nil {
			exitCodes <- -1
			return
		}
		switch header[0] {
		case 'O':
			_, _ = os.Stdout.Write(payload)
		case 'R':
			_, _ = os.Stderr.Write(payload)
		case 'X':
			code, err := strconv.Atoi(string(payload))
			if err != nil {
				code = 1
			}
			exitCodes <- code
			return
		}
	}
}
