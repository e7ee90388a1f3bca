package prcomments

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Retry is an http.RoundTripper that retries a request Azure DevOps throttled
// (429) or could not serve (503): it waits what Retry-After says, or backs off
// exponentially with full jitter when it says nothing, and gives up when the
// next wait would pass the budget, returning the last response as it came.
// Azure DevOps' own Go client does not retry.
type Retry struct {
	Next http.RoundTripper // nil: http.DefaultTransport
	// Budget bounds the time spent waiting over all requests that share this
	// Retry (the decoration's total), zero: one minute.
	Budget time.Duration
	// Base is the first back-off without Retry-After, zero: one second; each
	// further attempt doubles it, up to 30 s.
	Base time.Duration

	mu    sync.Mutex
	spent time.Duration
	// sleep is replaced by tests.
	sleep func(context.Context, time.Duration) error
}

const (
	maxBackoff = 30 * time.Second
	// maxAttempts bounds a request that keeps being throttled with a wait of
	// zero (Retry-After: 0), which the time budget alone would not end.
	maxAttempts = 10
)

// RoundTrip sends req, again while it is throttled and the budget allows.
func (r *Retry) RoundTrip(req *http.Request) (*http.Response, error) {
	next := r.Next
	if next == nil {
		next = http.DefaultTransport
	}
	budget := r.Budget
	if budget == 0 {
		budget = time.Minute
	}
	base := r.Base
	if base == 0 {
		base = time.Second
	}
	sleep := r.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 0; ; attempt++ {
		resp, err := next.RoundTrip(req)
		if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return resp, err
		}
		wait, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait = min(maxBackoff, base<<min(attempt, 16))
			wait = time.Duration(rand.Int64N(int64(wait)) + 1)
		}
		if attempt+1 >= maxAttempts || !r.take(wait, budget) || (req.Body != nil && req.GetBody == nil) {
			return resp, nil
		}
		// The response is drained so that its connection is reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		_ = resp.Body.Close()
		if err := sleep(req.Context(), wait); err != nil {
			return nil, fmt.Errorf("waiting %s to retry %s %s after %d: %w", wait, req.Method, req.URL.Path, resp.StatusCode, err)
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("replaying the body of %s %s: %w", req.Method, req.URL.Path, err)
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// take books wait against the budget, or says it would pass it.
func (r *Retry) take(wait, budget time.Duration) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.spent+wait > budget {
		return false
	}
	r.spent += wait
	return true
}

// Spent is the time this Retry has waited (or is waiting) so far.
func (r *Retry) Spent() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.spent
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(min(s, int64(time.Hour/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
