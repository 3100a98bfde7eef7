package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	apiutil "github.com/cert-manager/cert-manager/pkg/api/util"
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/cert-manager/cert-manager/pkg/util/pki"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"antrea.io/antrea-issuer/signer"
)

// bareIssuerRef names the issuer the bare issuer signs for: no such kind is installed, and no
// controller but the bare issuer looks at its requests (cert-manager's approver approves them,
// as it approves every request in a test process).
var bareIssuerRef = cmmeta.IssuerReference{Group: "bare.bench.antrea.io", Kind: "BareIssuer", Name: "bare"}

// bareIssuer signs CertificateRequests through cert-manager the way every issuer built on
// issuer-lib v0.11.0 does, with nothing else: one unfiltered CertificateRequest watch, then per
// approved request the Initializing status apply, the Issued status apply and an Event, all with
// antrea-issuer's ServiceAccount token. It runs in this process, so its CPU is the bench's. It is
// the cert-manager flow's counterpart of the throughput scenario's reference: the difference
// between it and cert-manager's CA issuer is what issuer-lib's way of writing costs, the
// difference between antrea-issuer and it what antrea-issuer's controller costs.
type bareIssuer struct {
	l      *lab
	ca     *signer.CA
	work   chan *cmapi.CertificateRequest
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	done map[types.UID]string // the last step taken per request: "init" or "issued"
	// patches and posts count its API requests, to tell cert-manager's apart in this process.
	patches, posts atomic.Int64
}

// bareIssuerWorkers is antrea-issuer's default --workers.
const bareIssuerWorkers = 4

func startBareIssuer(ctx context.Context, l *lab) (*bareIssuer, error) {
	ca, err := signer.GenerateCA(time.Now(), signer.CAOptions{CommonName: "bench bare issuer CA"})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	bi := &bareIssuer{l: l, ca: ca, work: make(chan *cmapi.CertificateRequest, 1024), cancel: cancel, done: map[types.UID]string{}}
	crs := l.issuerCM.CertmanagerV1().CertificateRequests("")
	list, err := crs.List(ctx, metav1.ListOptions{})
	if err != nil {
		cancel()
		return nil, err
	}
	rw, err := watchtools.NewRetryWatcherWithContext(ctx, list.ResourceVersion, &cache.ListWatch{
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) { return crs.Watch(ctx, o) },
	})
	if err != nil {
		cancel()
		return nil, err
	}
	bi.wg.Go(func() {
		defer rw.Stop()
		defer close(bi.work)
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-rw.ResultChan():
				if !ok {
					return
				}
				if cr, ok := ev.Object.(*cmapi.CertificateRequest); ok && ev.Type != watch.Deleted && cr.Spec.IssuerRef.Group == bareIssuerRef.Group {
					bi.work <- cr
				}
			}
		}
	})
	for range bareIssuerWorkers {
		bi.wg.Go(func() {
			for cr := range bi.work {
				if err := bi.handle(ctx, cr); err != nil && ctx.Err() == nil {
					fmt.Fprintf(l.cmLog, "%s bare issuer: %s/%s: %v\n", time.Now().Format(time.RFC3339Nano), cr.Namespace, cr.Name, err)
				}
			}
		})
	}
	return bi, nil
}

func (bi *bareIssuer) stop() {
	bi.cancel()
	bi.wg.Wait()
}

// handle takes the step issuer-lib takes for a request in this state, once per request.
func (bi *bareIssuer) handle(ctx context.Context, cr *cmapi.CertificateRequest) error {
	if !apiutil.CertificateRequestIsApproved(cr) {
		return nil
	}
	ready := apiutil.GetCertificateRequestCondition(cr, cmapi.CertificateRequestConditionReady)
	step := ""
	switch {
	case ready == nil:
		step = "init"
	case ready.Status == cmmeta.ConditionUnknown:
		step = "issued"
	default:
		return nil
	}
	bi.mu.Lock()
	prev := bi.done[cr.UID]
	if prev == step || prev == "issued" {
		bi.mu.Unlock()
		return nil
	}
	bi.done[cr.UID] = step
	bi.mu.Unlock()

	if step == "init" {
		bi.patches.Add(1)
		return applyRequestStatus(ctx, bi.l.issuerCM, cr.Namespace, cr.Name, cmapi.CertificateRequestStatus{Conditions: []cmapi.CertificateRequestCondition{{
			Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionUnknown, Reason: "Initializing",
			Message: "bare issuer has started reconciling this CertificateRequest", LastTransitionTime: ptrNow(),
		}}})
	}
	tmpl, err := pki.CertificateTemplateFromCertificateRequest(cr)
	if err != nil {
		return err
	}
	res, err := signer.Sign(time.Now(), bi.ca, signer.Bundle{}, tmpl, signer.SignOptions{})
	if err != nil {
		return err
	}
	bi.patches.Add(1)
	if err := applyRequestStatus(ctx, bi.l.issuerCM, cr.Namespace, cr.Name, cmapi.CertificateRequestStatus{
		Certificate: res.ChainPEM,
		CA:          res.CAPEM,
		Conditions: []cmapi.CertificateRequestCondition{{
			Type: cmapi.CertificateRequestConditionReady, Status: cmmeta.ConditionTrue, Reason: cmapi.CertificateRequestReasonIssued,
			Message: "Succeeded signing the CertificateRequest", LastTransitionTime: ptrNow(),
		}},
	}); err != nil {
		return err
	}
	bi.posts.Add(1)
	return issuedEvent(ctx, bi.l.issuerKube, cr)
}
