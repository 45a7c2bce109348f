package sandbox

import (
	stdpbkdf2 "crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"testing"
	"time"

	"github.com/wasgi/wasgi/abi"
)

// TestPBKDF2: RFC 6070's vectors, the same keys as Go's crypto/pbkdf2
// for every hash, and the deadline.
func TestPBKDF2(t *testing.T) {
	far := time.Now().Add(time.Minute)
	for _, v := range []struct {
		password, salt string
		iterations     int
		want           string
	}{
		{"password", "salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
		{"password", "salt", 4096, "4b007901b765489abead49d926f721d065a429c1"},
		{"passwordPASSWORDpassword", "saltSALTsaltSALTsaltSALTsaltSALTsalt", 4096, "3d2eec4fe41c849b80c8d83662c0e44a8b291a964cf2f07038"},
	} {
		got, ok := pbkdf2(sha1.New, []byte(v.password), []byte(v.salt), v.iterations, len(v.want)/2, far)
		if !ok || hex.EncodeToString(got) != v.want {
			t.Errorf("PBKDF2-SHA1(%q, %q, %d) = %x", v.password, v.salt, v.iterations, got)
		}
	}
	for name, h := range map[string]func() hash.Hash{"sha256": sha256.New, "sha512": sha512.New, "sha224": sha256.New224} {
		for _, n := range []int{20, 32, 80} {
			got, _ := pbkdf2(h, []byte("pw"), []byte("NaCl"), 1000, n, far)
			want, _ := stdpbkdf2.Key(h, "pw", []byte("NaCl"), 1000, n)
			if hex.EncodeToString(got) != hex.EncodeToString(want) {
				t.Errorf("%s, %d bytes: %x, want %x", name, n, got, want)
			}
		}
	}
	if _, ok := pbkdf2(sha256.New, []byte("pw"), []byte("s"), 1<<30, 32, time.Now()); ok {
		t.Fatal("2^30 iterations with no time left did not give up")
	}
	// Through the host function, on the exact bytes it writes.
	g := newFakeGuest("", nil)
	n1, l1 := g.put(0, "sha256")
	n2, l2 := g.put(16, "pw")
	n3, l3 := g.put(32, "NaCl")
	want, _ := stdpbkdf2.Key(sha256.New, "pw", []byte("NaCl"), 1000, 32)
	if r, _ := g.invoke(pbkdf2Func, n1, l1, n2, l2, n3, l3, 1000, 64, 32); r != 0 || hex.EncodeToString(g.mem.Bytes[64:96]) != hex.EncodeToString(want) || g.mem.Bytes[96] != 0 {
		t.Fatalf("pbkdf2_hmac = %d, wrote %x", r, g.mem.Bytes[64:97])
	}
	bad, bl := g.put(128, "md4")
	if r, _ := g.invoke(pbkdf2Func, bad, bl, n2, l2, n3, l3, 1000, 200, 32); r != abi.ErrIO || g.mem.Bytes[200] != 0 {
		t.Fatalf("unknown hash: %d", r)
	}
}
