package abi

import (
	"errors"
	"testing"
)

func TestEnvironRoundTrip(t *testing.T) {
	in := [][2]string{{"REQUEST_METHOD", "GET"}, {"PATH_INFO", "/caf\xc3\xa9"}, {"EMPTY", ""}, {"EQ", "a=b=c"}}
	var b []byte
	for _, kv := range in {
		var ok bool
		if b, ok = AppendEnviron(b, kv[0], kv[1]); !ok {
			t.Fatalf("AppendEnviron(%q) refused", kv)
		}
	}
	want := "REQUEST_METHOD=GET\x00PATH_INFO=/caf\xc3\xa9\x00EMPTY=\x00EQ=a=b=c\x00"
	if string(b) != want {
		t.Fatalf("encoded %q, want %q", b, want)
	}
	var got [][2]string
	if err := ParseEnviron(b, func(k, v []byte) bool { got = append(got, [2]string{string(k), string(v)}); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in) {
		t.Fatalf("got %q", got)
	}
	for i := range in {
		if got[i] != in[i] {
			t.Fatalf("entry %d = %q, want %q", i, got[i], in[i])
		}
	}
}

func TestAppendEnvironRefuses(t *testing.T) {
	for _, kv := range [][2]string{{"", "v"}, {"A=B", "v"}, {"A\x00", "v"}, {"A", "v\x00"}} {
		if b, ok := AppendEnviron([]byte("x"), kv[0], kv[1]); ok || string(b) != "x" {
			t.Errorf("AppendEnviron(%q) = %q, %v", kv, b, ok)
		}
	}
}

func TestParseEnvironMalformed(t *testing.T) {
	for _, b := range []string{"A=1", "=1\x00", "NOEQUALS\x00", "A=1\x00B"} {
		if err := ParseEnviron([]byte(b), func(k, v []byte) bool { return true }); !errors.Is(err, ErrEnviron) {
			t.Errorf("ParseEnviron(%q) = %v", b, err)
		}
	}
}

func FuzzEnviron(f *testing.F) {
	f.Add("REQUEST_METHOD", "GET", []byte("A=1\x00B=2\x00"))
	f.Add("K", "a=b\xff", []byte("=\x00"))
	f.Fuzz(func(t *testing.T, key, value string, raw []byte) {
		// Any bytes: parsing never panics and entries alias valid keys.
		ParseEnviron(raw, func(k, v []byte) bool {
			if len(k) == 0 {
				t.Fatal("empty key")
			}
			return true
		})
		// What encodes decodes to the same entry.
		b, ok := AppendEnviron(nil, key, value)
		if !ok {
			return
		}
		n := 0
		err := ParseEnviron(b, func(k, v []byte) bool {
			n++
			if string(k) != key || string(v) != value {
				t.Fatalf("round trip %q=%q gave %q=%q", key, value, k, v)
			}
			return true
		})
		if err != nil || n != 1 {
			t.Fatalf("round trip: %v, %d entries", err, n)
		}
	})
}
