package sandbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"time"

	"github.com/tetratelabs/wazero/api"

	"github.com/wasgi/wasgi/abi"
)

// cryptoFuncs are primitives a guest would run far slower in wasm
// (abi/ABI.md section 4.10). Django checks every password with PBKDF2 at a
// million iterations: about 4 s in the Python runtime's pure-Python
// hashlib, a fraction of a second natively.
var cryptoFuncs = []hostFunc{
	newHostFunc(abi.FuncPBKDF2, pbkdf2Func, "errno", "hash", "hash_len", "password", "password_len", "salt", "salt_len", "iterations", "out", "out_len"),
}

// Bounds of one pbkdf2_hmac call, besides the call's deadline.
const (
	maxPBKDF2Out    = 1 << 10
	maxPBKDF2Secret = 1 << 16
)

// pbkdf2Hashes are the digests pbkdf2_hmac knows, by hashlib name.
var pbkdf2Hashes = map[string]func() hash.Hash{
	"sha1": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// pbkdf2Func backs pbkdf2_hmac(hash, hash_len, password, password_len,
// salt, salt_len, iterations, out, out_len) -> i32: PBKDF2-HMAC (RFC
// 8018) of the named hash into out[0:out_len]; 0, or abi.ErrIO for an
// unknown hash or sizes out of bounds (nothing written), abi.ErrTimeout
// when the running call's deadline passes first.
func pbkdf2Func(ctx context.Context, m api.Module, stack []uint64) {
	name := guestBytes(m, abi.FuncPBKDF2, stack[0], stack[1])
	password := guestBytes(m, abi.FuncPBKDF2, stack[2], stack[3])
	salt := guestBytes(m, abi.FuncPBKDF2, stack[4], stack[5])
	iterations := api.DecodeI32(stack[6])
	out := guestBytes(m, abi.FuncPBKDF2, stack[7], stack[8])
	s := stateFrom(ctx)
	if s == nil {
		stack[0] = api.EncodeI32(abi.ErrNotAllowed)
		return
	}
	h := pbkdf2Hashes[string(name)]
	if h == nil || iterations < 1 || len(out) == 0 || len(out) > maxPBKDF2Out || len(password) > maxPBKDF2Secret || len(salt) > maxPBKDF2Secret {
		stack[0] = api.EncodeI32(abi.ErrIO)
		return
	}
	key, ok := pbkdf2(h, password, salt, int(iterations), len(out), s.callDeadline())
	if !ok {
		stack[0] = api.EncodeI32(abi.ErrTimeout)
		return
	}
	copy(out, key)
	stack[0] = 0
}

// pbkdf2 is RFC 8018's PBKDF2 with HMAC-h, giving up (false) at deadline:
// the guest cannot be stopped while the host computes for it, so the host
// stops itself.
func pbkdf2(h func() hash.Hash, password, salt []byte, iterations, keyLen int, deadline time.Time) ([]byte, bool) {
	prf := hmac.New(h, password)
	hashLen := prf.Size()
	var key []byte
	var u, t []byte
	var block [4]byte
	for i := 1; len(key) < keyLen; i++ {
		prf.Reset()
		prf.Write(salt)
		binary.BigEndian.PutUint32(block[:], uint32(i))
		prf.Write(block[:])
		u = prf.Sum(u[:0])
		t = append(t[:0], u...)
		for n := 1; n < iterations; n++ {
			if n&0xfff == 0 && time.Now().After(deadline) {
				return nil, false
			}
			prf.Reset()
			prf.Write(u)
			u = prf.Sum(u[:0])
			for j := range t {
				t[j] ^= u[j]
			}
		}
		key = append(key, t[:min(hashLen, keyLen-len(key))]...)
	}
	return key, true
}
