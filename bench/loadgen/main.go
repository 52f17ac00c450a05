// Command loadgen drives unary gRPC calls at a fixed number in flight and reports
// latency percentiles and throughput as one JSON line. The online benchmark uses it
// instead of a Node client: on a two-core machine a grpc-js client spends more CPU per
// call than the server under test, so it would measure itself. Requests are encoded by
// the caller beforehand (a file of u32 big-endian length-prefixed messages) and sent
// round-robin as raw bytes; responses are counted, not decoded.
// With -http URL it POSTs the same file's entries as JSON bodies to that URL instead
// (one keep-alive connection per call in flight), so HTTP servers - ours and Feast's
// feature server - are measured by the same client; any answer but 200 is a failure.
// gRPC calls share one HTTP/2 connection unless -conns N spreads them over N (each its
// own grpc-go client, calls dealt round-robin), as a fleet of model servers would each
// hold its own channel to the serving service.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/metadata"
)

// rawCodec passes pre-encoded messages through untouched.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*(v.(*[]byte)) = data
	return nil
}
func (rawCodec) Name() string { return "raw" }

var _ encoding.Codec = rawCodec{}

func readRequests(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out [][]byte
	var size [4]byte
	for {
		if _, err := io.ReadFull(f, size[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		msg := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(f, msg); err != nil {
			return nil, err
		}
		out = append(out, msg)
	}
	if len(out) == 0 {
		out = append(out, []byte{})
	}
	return out, nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)) * p)
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i].Microseconds()) / 1000
}

func main() {
	target := flag.String("target", "", "host:port")
	method := flag.String("method", "", "full method path, /package.Service/Method")
	requestsFile := flag.String("requests", "", "length-prefixed request messages; empty: one empty message")
	concurrency := flag.Int("concurrency", 1, "calls in flight")
	duration := flag.Duration("duration", 3*time.Second, "measured time")
	warmup := flag.Duration("warmup", 500*time.Millisecond, "unmeasured time before it")
	bearer := flag.String("bearer", "", "send authorization: Bearer <token> with every gRPC call")
	httpURL := flag.String("http", "", "POST each request to this URL as application/json instead of gRPC")
	conns := flag.Int("conns", 1, "gRPC connections the calls are spread over (round-robin)")
	flag.Parse()

	requests := [][]byte{{}}
	if *requestsFile != "" {
		var err error
		if requests, err = readRequests(*requestsFile); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
	}
	var next atomic.Uint64
	var call func() error
	if *httpURL != "" {
		call = httpCaller(*httpURL, requests, *concurrency, &next)
	} else {
		if *conns < 1 {
			fmt.Fprintln(os.Stderr, "loadgen: -conns must be at least 1")
			os.Exit(2)
		}
		call = grpcCaller(*target, *method, *bearer, requests, *conns, &next)
	}
	run := func(until time.Time, record bool) ([]time.Duration, error) {
		var mu sync.Mutex
		var all []time.Duration
		var firstErr error
		var wg sync.WaitGroup
		for w := 0; w < *concurrency; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := make([]time.Duration, 0, 1<<14)
				for {
					t0 := time.Now()
					if t0.After(until) {
						break
					}
					if err := call(); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					if record {
						local = append(local, time.Since(t0))
					}
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		return all, firstErr
	}
	if _, err := run(time.Now().Add(*warmup), false); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: warm-up call failed:", err)
		os.Exit(1)
	}
	start := time.Now()
	latencies, err := run(start.Add(*duration), true)
	wall := time.Since(start).Seconds()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: call failed:", err)
		os.Exit(1)
	}
	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	out, _ := json.Marshal(map[string]any{
		"p50_ms":  percentile(latencies, 0.5),
		"p99_ms":  percentile(latencies, 0.99),
		"p999_ms": percentile(latencies, 0.999),
		"rps":     int(float64(len(latencies)) / wall),
		"calls":   len(latencies),
	})
	fmt.Println(string(out))
}

// grpcCaller sends the requests round-robin as raw bytes over n connections (separate
// grpc-go clients: one client multiplexes every call onto a single HTTP/2 connection).
func grpcCaller(target, method, bearer string, requests [][]byte, n int, next *atomic.Uint64) func() error {
	clients := make([]*grpc.ClientConn, n)
	for i := range clients {
		conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(2)
		}
		clients[i] = conn
	}
	// The same metadata on every call, made once.
	callContext := context.Background()
	if bearer != "" {
		callContext = metadata.AppendToOutgoingContext(callContext, "authorization", "Bearer "+bearer)
	}
	return func() error {
		i := next.Add(1)
		req := requests[i%uint64(len(requests))]
		var resp []byte
		return clients[i%uint64(n)].Invoke(callContext, method, &req, &resp)
	}
}

// httpCaller POSTs the requests round-robin as JSON, reading each answer whole.
func httpCaller(url string, requests [][]byte, concurrency int, next *atomic.Uint64) func() error {
	client := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		DisableCompression:  true,
	}}
	return func() error {
		req := requests[next.Add(1)%uint64(len(requests))]
		resp, err := client.Post(url, "application/json", bytes.NewReader(req))
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, body)
		}
		return nil
	}
}
