package rotation

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestSignatureMemo(t *testing.T) {
	var m signatureMemo
	k1 := signatureKey{version: "1", ca: [32]byte{1}}
	k2 := signatureKey{version: "1", ca: [32]byte{2}}
	if _, ok := m.get("a", k1); ok {
		t.Fatal("empty memo answered")
	}
	m.put("a", k1, true)
	if signed, ok := m.get("a", k1); !ok || !signed {
		t.Fatalf("get after put = %v, %v; want true, true", signed, ok)
	}
	if _, ok := m.get("a", k2); ok {
		t.Fatal("answer for another CA returned")
	}
	if _, ok := m.get("a", signatureKey{version: "2", ca: k1.ca}); ok {
		t.Fatal("answer for another request version returned")
	}
	m.put("a", k2, false)
	if _, ok := m.get("a", k1); ok {
		t.Fatal("the older answer for a request was kept beside the newer")
	}
	if signed, ok := m.get("a", k2); !ok || signed {
		t.Fatalf("get = %v, %v; want false, true", signed, ok)
	}
}

// TestSignatureMemoStaysBounded: requests come and go for as long as the controller runs;
// the memo must not keep one entry for each forever.
func TestSignatureMemoStaysBounded(t *testing.T) {
	var m signatureMemo
	for i := range 3 * maxRememberedSignatures {
		m.put(types.UID(fmt.Sprint(i)), signatureKey{version: "1"}, true)
		if len(m.answers) > maxRememberedSignatures {
			t.Fatalf("after %d requests the memo holds %d answers, bound %d", i+1, len(m.answers), maxRememberedSignatures)
		}
	}
}
