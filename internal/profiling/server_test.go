package profiling

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServesPprofUntilStopped(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, l) }()

	resp, err := http.Get("http://" + l.Addr().String() + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("status %d, body %.200q", resp.StatusCode, body)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after the context ended: %v", err)
	}
}

func TestStartReportsABadAddress(t *testing.T) {
	err := (&Server{Address: "not an address"}).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not an address") {
		t.Fatalf("Start = %v, want an error naming the address", err)
	}
}
