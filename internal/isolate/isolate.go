// Package isolate runs units of work in worker processes, each within a
// budget of time and memory.
//
// Third-party parsers and evaluators (Trivy's HCL evaluator, Helm's template
// engine, YAML decoders) can recurse or allocate without bound on input a
// pull request writes: a `count` of a hundred million, a string doubled
// forty times, a template that renders itself. Go ends the whole process
// on a stack overflow or when memory runs out, and recover() never sees
// either; Go has no per-goroutine memory limit, and a goroutine cannot be
// stopped from outside. A worker process can: it is the same binary, run
// again with Arg as its first argument, fed requests over its stdin and
// answering on its stdout. The pool kills a worker whose request outlives
// its deadline or whose resident memory passes the limit (the worker
// itself also caps its address space and tells Go's collector the limit),
// and replaces a worker that died; the caller gets a *LimitError naming
// what ran out and reports the unit, and every other unit goes on.
package isolate

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate/tollgate/internal/crash"
)

// Arg is the first argument of a worker's command line:
// `tollgate __worker NAME`.
const Arg = "__worker"

// memoryEnv carries the worker's memory limit in bytes to the worker;
// debugEnv says it logs at the debug level.
const (
	memoryEnv  = "TOLLGATE_WORKER_MEMORY"
	debugEnv   = "TOLLGATE_WORKER_DEBUG"
	timeoutEnv = "TOLLGATE_WORKER_TIMEOUT"
)

// selfDeadline is how long a worker lets a request run before it ends
// itself, for a pool timeout d: a quarter more (at least a second), so
// that the pool kills it first, unless the pool is gone (its scan was
// killed), when the worker must not run on.
func selfDeadline(d time.Duration) time.Duration { return d + max(d/4, time.Second) }

// maxFrame bounds one request or reply (a unit's files, or its findings).
const maxFrame = 4 << 30

// Limits are a unit's budget.
type Limits struct {
	// Timeout bounds one request (0: none).
	Timeout time.Duration
	// Memory bounds a worker's resident memory, in bytes (0: none).
	Memory int64
}

// LimitError is a unit that did not finish within its budget: it took too
// long, its worker used too much memory, or its worker died (a stack
// overflow, a fatal error in a library, killed by the system).
type LimitError struct {
	// Kind is "time", "memory" or "crash".
	Kind string
	// Limit is the budget that ran out, as the user set it ("1m0s",
	// "1.0 GiB"); "" for a crash.
	Limit string
	// Detail is what the worker said when it died (Go's fatal error line),
	// or its exit status.
	Detail string
}

func (e *LimitError) Error() string {
	switch e.Kind {
	case "time":
		return "took longer than " + e.Limit
	case "memory":
		return "used more than " + e.Limit + " of memory"
	}
	return "its worker process died: " + e.Detail
}

// Config is a pool's workers and budget.
type Config struct {
	// Command starts a worker: the executable and its arguments (Arg and
	// the worker's name). Env is added to the parent's environment.
	Command []string
	Env     []string
	// Size is the most workers running at once.
	Size   int
	Limits Limits
	// Log gets the workers' log records (nil: dropped); Debug has the
	// workers log at the debug level.
	Log   *slog.Logger
	Debug bool
}

// Pool is a set of worker processes. Its methods may be called from many
// goroutines; Close ends the workers.
type Pool struct {
	cfg   Config
	slots chan struct{}
	// idle holds the workers waiting for a request, a signal on ready that
	// one was put there.
	ready chan struct{}
	mu    sync.Mutex
	idle  []*proc
	all   map[*proc]bool
	// warming counts the workers Warm started that are still preparing,
	// waiting the requests waiting for them: a request waits for one of
	// those rather than start another worker.
	warming, waiting int
	closed           bool
}

// NewPool returns a pool; workers start on demand.
func NewPool(cfg Config) *Pool {
	cfg.Size = max(cfg.Size, 1)
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Pool{cfg: cfg, slots: make(chan struct{}, cfg.Size), ready: make(chan struct{}, cfg.Size), all: map[*proc]bool{}}
}

// Do sends req to a worker and returns its reply. timeout bounds this
// request (0: the pool's Timeout). A request that outlives its deadline or
// whose worker passes the memory limit or dies returns a *LimitError; the
// handler's own error comes back as an error too; ctx's end kills the
// worker and returns ctx's error.
func (p *Pool) Do(ctx context.Context, req []byte, timeout time.Duration) ([]byte, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-p.slots }()
	w, err := p.take(ctx)
	if err != nil {
		return nil, err
	}
	return p.call(ctx, w, req, timeout)
}

func (p *Pool) call(ctx context.Context, w *proc, req []byte, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		timeout = p.cfg.Limits.Timeout
	}
	reply, err := w.call(ctx, req, timeout, p.cfg.Limits)
	if w.alive() {
		p.put(w)
	} else {
		p.forget(w)
	}
	return reply, err
}

// Warm starts n workers (at most the pool's size in all) in the background
// and has each answer req, a request that prepares it: requests that come
// meanwhile wait for them instead of starting more. Errors are the first
// real request's to report.
func (p *Pool) Warm(ctx context.Context, req []byte, n int) {
	p.mu.Lock()
	n = min(n, p.cfg.Size-len(p.all)-p.warming)
	if p.closed || n <= 0 {
		p.mu.Unlock()
		return
	}
	p.warming += n
	p.mu.Unlock()
	for range n {
		go func() {
			var err error
			defer crash.Recover("starting a worker", &err)
			p.slots <- struct{}{}
			defer func() { <-p.slots }()
			defer func() {
				p.mu.Lock()
				p.warming--
				p.mu.Unlock()
				p.signal()
			}()
			if w, err := p.spawn(); err == nil {
				_, _ = p.call(ctx, w, req, 0)
			}
		}()
	}
}

// Close ends every worker.
func (p *Pool) Close() {
	p.mu.Lock()
	procs := make([]*proc, 0, len(p.all))
	for w := range p.all {
		procs = append(procs, w)
	}
	p.idle, p.all, p.closed = nil, map[*proc]bool{}, true
	p.mu.Unlock()
	p.signal()
	for _, w := range procs {
		w.stop()
	}
}

// errClosed is a request to a pool that was closed.
var errClosed = errors.New("the worker pool is closed")

// take returns an idle worker, one Warm is preparing, or a new one.
func (p *Pool) take(ctx context.Context) (*proc, error) {
	for {
		p.mu.Lock()
		switch {
		case p.closed:
			p.mu.Unlock()
			return nil, errClosed
		case len(p.idle) > 0:
			w := p.idle[len(p.idle)-1]
			p.idle = p.idle[:len(p.idle)-1]
			p.mu.Unlock()
			return w, nil
		case p.warming > p.waiting:
			// A worker being prepared will be free soon: wait for it.
			p.waiting++
			p.mu.Unlock()
			select {
			case <-p.ready:
			case <-ctx.Done():
			}
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		p.mu.Unlock()
		return p.spawn()
	}
}

// spawn starts a worker and adds it to the pool.
func (p *Pool) spawn() (*proc, error) {
	w, err := start(p.cfg)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		w.stop()
		return nil, errClosed
	}
	p.all[w] = true
	p.mu.Unlock()
	return w, nil
}

func (p *Pool) put(w *proc) {
	p.mu.Lock()
	if p.all[w] {
		p.idle = append(p.idle, w)
	}
	p.mu.Unlock()
	p.signal()
}

func (p *Pool) forget(w *proc) {
	p.mu.Lock()
	delete(p.all, w)
	p.mu.Unlock()
	p.signal()
	w.stop()
}

// signal wakes a request waiting in take.
func (p *Pool) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// proc is one worker process.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	// exited is closed when the process has ended and err holds Wait's error.
	exited  chan struct{}
	waitErr error
	// stderrDone is closed when the worker's stderr is read to its end.
	stderrDone chan struct{}
	tail       *tail
}

func start(cfg Config) (*proc, error) {
	if len(cfg.Command) == 0 {
		return nil, errors.New("no worker command")
	}
	cmd := exec.Command(cfg.Command[0], cfg.Command[1:]...)
	cmd.Env = append(os.Environ(), cfg.Env...)
	if cfg.Limits.Memory > 0 {
		cmd.Env = append(cmd.Env, memoryEnv+"="+strconv.FormatInt(cfg.Limits.Memory, 10))
	}
	if cfg.Debug {
		cmd.Env = append(cmd.Env, debugEnv+"=1")
	}
	if cfg.Limits.Timeout > 0 {
		cmd.Env = append(cmd.Env, timeoutEnv+"="+cfg.Limits.Timeout.String())
	}
	setProcessGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a worker process (%s): %w", cfg.Command[0], err)
	}
	w := &proc{cmd: cmd, stdin: stdin, stdout: bufio.NewReaderSize(stdout, 1<<16), exited: make(chan struct{}),
		stderrDone: make(chan struct{}), tail: &tail{}}
	go func() {
		defer close(w.stderrDone)
		var err error
		defer crash.Recover("reading a worker's log", &err)
		relayLog(stderr, cfg.Log, w.tail)
	}()
	go func() {
		<-w.stderrDone
		w.waitErr = cmd.Wait()
		close(w.exited)
	}()
	return w, nil
}

func (w *proc) alive() bool {
	select {
	case <-w.exited:
		return false
	default:
		return true
	}
}

// stop ends the worker: its stdin closed (a worker ends at the end of its
// input), then killed if it has not ended shortly after.
func (w *proc) stop() {
	_ = w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(2 * time.Second):
		kill(w.cmd)
		<-w.exited
	}
}

type reply struct {
	b   []byte
	err error
}

// call runs one request on the worker.
func (w *proc) call(ctx context.Context, req []byte, timeout time.Duration, lim Limits) ([]byte, error) {
	done := make(chan reply, 1)
	go func() {
		var r reply
		defer func() { done <- r }()
		defer crash.Recover("a worker's reply", &r.err)
		if r.err = writeFrame(w.stdin, 0, req); r.err != nil {
			return
		}
		r.b, r.err = readReply(w.stdout)
	}()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var poll <-chan time.Time
	if lim.Memory > 0 && canMeasure {
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		poll = t.C
	}
	for {
		select {
		case r := <-done:
			if r.err == nil {
				return r.b, nil
			}
			var herr *HandlerError
			if errors.As(r.err, &herr) {
				return nil, herr
			}
			// The worker went away mid-request: it died.
			kill(w.cmd)
			<-w.exited
			return nil, w.died(lim)
		case <-deadline:
			kill(w.cmd)
			<-w.exited
			<-done
			return nil, &LimitError{Kind: "time", Limit: timeout.String()}
		case <-poll:
			if rss, ok := residentBytes(w.cmd.Process.Pid); ok && rss > lim.Memory {
				kill(w.cmd)
				<-w.exited
				<-done
				return nil, &LimitError{Kind: "memory", Limit: Size(lim.Memory)}
			}
		case <-ctx.Done():
			kill(w.cmd)
			<-w.exited
			<-done
			return nil, ctx.Err()
		}
	}
}

// died says why a worker ended in the middle of a request.
func (w *proc) died(lim Limits) error {
	fatal := w.tail.fatal()
	if lim.Memory > 0 && (strings.Contains(fatal, "out of memory") || strings.Contains(fatal, "cannot allocate memory")) {
		return &LimitError{Kind: "memory", Limit: Size(lim.Memory), Detail: fatal}
	}
	detail := fatal
	if detail == "" && w.waitErr != nil {
		detail = w.waitErr.Error()
	}
	if detail == "" {
		detail = "it ended without a reply"
	}
	return &LimitError{Kind: "crash", Detail: detail}
}

// HandlerError is an error the worker's handler returned for a request:
// the worker is fine and goes on serving.
type HandlerError struct{ Message string }

func (e *HandlerError) Error() string { return e.Message }

// Frames: a status byte (0: a request or a reply, 1: a handler's error),
// the payload's length (8 bytes, big-endian), the payload.
func writeFrame(w io.Writer, status byte, b []byte) error {
	var hdr [9]byte
	hdr[0] = status
	binary.BigEndian.PutUint64(hdr[1:], uint64(len(b)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(b)
	return err
}

func readFrame(r io.Reader) (byte, []byte, error) {
	var hdr [9]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint64(hdr[1:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("a frame of %d bytes", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return 0, nil, io.ErrUnexpectedEOF
	}
	return hdr[0], b, nil
}

func readReply(r io.Reader) ([]byte, error) {
	status, b, err := readFrame(r)
	if err != nil {
		return nil, err
	}
	if status == 1 {
		return nil, &HandlerError{Message: string(b)}
	}
	return b, nil
}

// Handler answers one request in a worker.
type Handler func(ctx context.Context, req []byte) ([]byte, error)

// Serve is a worker's loop: it reads requests from r until its end and
// writes each reply to w. Call Enter first.
func Serve(ctx context.Context, r io.Reader, w io.Writer, h Handler) error {
	br := bufio.NewReaderSize(r, 1<<16)
	bw := bufio.NewWriterSize(w, 1<<16)
	for {
		_, req, err := readFrame(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading a request: %w", err)
		}
		var stop func() bool
		if d, err := time.ParseDuration(os.Getenv(timeoutEnv)); err == nil && d > 0 {
			stop = time.AfterFunc(selfDeadline(d), func() {
				fmt.Fprintf(os.Stderr, "fatal error: a request ran past its deadline (%s) and the pool did not stop it\n", d)
				os.Exit(3)
			}).Stop
		}
		resp, herr := h(ctx, req)
		if stop != nil {
			stop()
		}
		if herr != nil {
			err = writeFrame(bw, 1, []byte(herr.Error()))
		} else {
			err = writeFrame(bw, 0, resp)
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			return fmt.Errorf("writing a reply: %w", err)
		}
	}
}

// Enter applies the pool's memory limit inside a worker: Go's collector
// works to stay under it, and the address space is capped (where the
// system has such a cap) so that one huge allocation fails at once instead
// of after it was touched.
func Enter() {
	n, err := strconv.ParseInt(os.Getenv(memoryEnv), 10, 64)
	if err != nil || n <= 0 {
		return
	}
	setMemoryLimit(n)
}

// Debug reports, in a worker, whether its pool logs at the debug level.
func Debug() bool { return os.Getenv(debugEnv) == "1" }

// Logger is the log a worker writes on its stderr: JSON records, which the
// pool reads and logs through its own logger (Config.Log), as one log.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// relayLog reads a worker's stderr: JSON log records go to log with their
// level, message and attributes; any other line (Go's fatal error and its
// stack) is kept in t.
func relayLog(r io.Reader, log *slog.Logger, t *tail) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var rec map[string]any
		if len(line) > 0 && line[0] == '{' && json.Unmarshal(line, &rec) == nil {
			relayRecord(log, rec)
			continue
		}
		t.add(string(line))
	}
	// Past a line too long for the scanner, drain what is left.
	_, _ = io.Copy(io.Discard, r)
}

func relayRecord(log *slog.Logger, rec map[string]any) {
	var level slog.Level
	if s, ok := rec[slog.LevelKey].(string); ok {
		_ = level.UnmarshalText([]byte(s))
	}
	msg, _ := rec[slog.MessageKey].(string)
	delete(rec, slog.TimeKey)
	delete(rec, slog.LevelKey)
	delete(rec, slog.MessageKey)
	attrs := make([]slog.Attr, 0, len(rec))
	for k, v := range rec {
		attrs = append(attrs, slog.Any(k, v))
	}
	log.LogAttrs(context.Background(), level, msg, attrs...)
}

// tail keeps what a worker wrote on stderr that was not a log record: the
// first line of a fatal error or panic, and the last lines.
type tail struct {
	mu    sync.Mutex
	first string
	lines []string
}

const tailLines = 16

// fatalPrefixes start the lines Go writes when it ends a process.
var fatalPrefixes = []string{"fatal error:", "panic:", "runtime: out of memory", "runtime: goroutine stack exceeds"}

func (t *tail) add(s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s) > 512 {
		s = s[:512]
	}
	if t.first == "" && slices.ContainsFunc(fatalPrefixes, func(p string) bool { return strings.HasPrefix(s, p) }) {
		t.first = s
	}
	t.lines = append(t.lines, s)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
}

// fatal is the line of Go's fatal error or panic, else the last line kept.
func (t *tail) fatal() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.first != "" {
		return t.first
	}
	for i := len(t.lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(t.lines[i]); l != "" {
			return l
		}
	}
	return ""
}

// Size prints a byte count as the size settings read it.
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// addressSpace is the address-space cap of a worker limited to n bytes of
// memory: n plus what the binary reserves without using (a worker of
// ~200 MiB resident maps ~5.5 GiB: the regex engine's WebAssembly memory,
// Go's heap reservations). It stops a single absurd allocation at once; the
// pool's reading of resident memory enforces n itself.
func addressSpace(n int64) int64 { return n + 8<<30 }
