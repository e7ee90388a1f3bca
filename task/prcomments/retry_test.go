package prcomments

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// throttling answers the first n requests with status and header, then 200
// with the body it was sent.
func throttling(t *testing.T, n int32, status int, header string) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) <= n {
			if header != "" {
				w.Header().Set("Retry-After", header)
			}
			w.WriteHeader(status)
			return
		}
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func post(t *testing.T, rt http.RoundTripper, url string) (*http.Response, error) {
	t.Helper()
	c := &http.Client{Transport: rt}
	return c.Post(url, "application/json", strings.NewReader(`{"comments":[{"content":"x"}]}`))
}

func TestRetryHonoursRetryAfterAndReplaysTheBody(t *testing.T) {
	srv, calls := throttling(t, 1, http.StatusTooManyRequests, "1")
	rt := &Retry{}
	start := time.Now()
	resp, err := post(t, rt, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != `{"comments":[{"content":"x"}]}` {
		t.Fatalf("status %d body %q: the retried request must carry its body", resp.StatusCode, body)
	}
	if calls.Load() != 2 {
		t.Errorf("%d calls, want 2", calls.Load())
	}
	if waited := time.Since(start); waited < time.Second || rt.Spent() != time.Second {
		t.Errorf("waited %s (booked %s), Retry-After said 1 s", waited, rt.Spent())
	}
}

func TestRetryBacksOffWithJitterOn503(t *testing.T) {
	srv, calls := throttling(t, 3, http.StatusServiceUnavailable, "")
	var waits []time.Duration
	rt := &Retry{Base: 100 * time.Millisecond, sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}}
	resp, err := post(t, rt, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls.Load() != 4 || len(waits) != 3 {
		t.Fatalf("status %d after %d calls and waits %v", resp.StatusCode, calls.Load(), waits)
	}
	for i, w := range waits {
		if ceiling := 100 * time.Millisecond << i; w <= 0 || w > ceiling {
			t.Errorf("wait %d = %s, want in (0, %s]", i, w, ceiling)
		}
	}
}

func TestRetryStopsAtTheBudget(t *testing.T) {
	srv, calls := throttling(t, 1000, http.StatusTooManyRequests, "20")
	rt := &Retry{Budget: 50 * time.Second, sleep: func(context.Context, time.Duration) error { return nil }}
	resp, err := post(t, rt, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || calls.Load() != 3 || rt.Spent() != 40*time.Second {
		t.Errorf("status %d after %d calls, %s spent; want the 429 back after 3 calls and 40 s", resp.StatusCode, calls.Load(), rt.Spent())
	}
}

func TestRetryEndsOnAZeroRetryAfter(t *testing.T) {
	srv, calls := throttling(t, 1000, http.StatusTooManyRequests, "0")
	resp, err := post(t, &Retry{}, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || calls.Load() != maxAttempts {
		t.Errorf("status %d after %d calls, want the 429 back after %d", resp.StatusCode, calls.Load(), maxAttempts)
	}
}

func TestRetryLeavesOtherStatusesAlone(t *testing.T) {
	for _, status := range []int{http.StatusForbidden, http.StatusUnauthorized, http.StatusInternalServerError, http.StatusBadRequest} {
		srv, calls := throttling(t, 1, status, "1")
		resp, err := post(t, &Retry{}, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status || calls.Load() != 1 {
			t.Errorf("%d: got %d after %d calls, want it back at once", status, resp.StatusCode, calls.Load())
		}
	}
}

func TestRetryHonoursTheContext(t *testing.T) {
	srv, _ := throttling(t, 1000, http.StatusTooManyRequests, "30")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	start := time.Now()
	_, err := (&http.Client{Transport: &Retry{}}).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %s, want the context's deadline at once", err, time.Since(start))
	}
}

func TestRetryAfterForms(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"0":                             0,
		"7":                             7 * time.Second,
		"99999999":                      time.Hour,
		"Tue, 01 Dec 2026 12:00:05 GMT": 5 * time.Second,
		"Tue, 01 Dec 2026 11:00:00 GMT": 0,
	} {
		if got, ok := retryAfter(v, now); !ok || got != want {
			t.Errorf("retryAfter(%q) = %s, %v; want %s", v, got, ok, want)
		}
	}
	for _, v := range []string{"", "-1", "soon", "1.5"} {
		if _, ok := retryAfter(v, now); ok {
			t.Errorf("retryAfter(%q) accepted", v)
		}
	}
}
