// Command load is a small closed-loop HTTP load generator for bench/run.sh:
// c connections each send requests back to back for a fixed time, then it
// prints one line: requests/s, p50 and p99 latency, errors. It only targets
// loopback addresses.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"time"
)

func main() {
	target := flag.String("url", "", "URL to load (loopback only)")
	host := flag.String("host", "", "Host header")
	conns := flag.Int("c", 1, "concurrent connections")
	dur := flag.Duration("d", 5*time.Second, "duration")
	body := flag.Int("body", 0, "POST a body of this many bytes")
	label := flag.String("label", "", "label printed first")
	micros := flag.Bool("us", false, "print latencies as whole microseconds")
	grep := flag.String("grep", "", "count responses whose body contains this (printed last)")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil {
		fail(err)
	}
	if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
		fail(fmt.Errorf("refusing non-loopback target %s", u.Host))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	payload := bytes.Repeat([]byte("x"), *body)

	var mu sync.Mutex
	var lat []time.Duration
	var errs, bytesIn, matched int64
	stop := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var e, n, g int64
			for time.Now().Before(stop) {
				method, rd := "GET", io.Reader(nil)
				if *body > 0 {
					method, rd = "POST", bytes.NewReader(payload)
				}
				req, _ := http.NewRequest(method, *target, rd)
				if *host != "" {
					req.Host = *host
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					e++
					continue
				}
				var m int64
				if *grep != "" {
					b, _ := io.ReadAll(resp.Body)
					m = int64(len(b))
					if bytes.Contains(b, []byte(*grep)) {
						g++
					}
				} else {
					m, _ = io.Copy(io.Discard, resp.Body)
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					e++
				}
				n += m
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			errs += e
			bytesIn += n
			matched += g
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(float64(len(lat))*p))]
	}
	if *grep != "" {
		defer fmt.Printf("\t%d\n", matched)
		fmt.Printf("%s\t%.0f\t%s\t%s\t%d", *label, float64(len(lat))/dur.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), errs)
		return
	}
	if *micros {
		fmt.Printf("%s\t%.0f\t%d\t%d\t%d\n", *label, float64(len(lat))/dur.Seconds(), pct(0.50).Microseconds(), pct(0.99).Microseconds(), errs)
		return
	}
	fmt.Printf("%s\t%.0f\t%s\t%s\t%d\n", *label, float64(len(lat))/dur.Seconds(), pct(0.50).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), errs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}
