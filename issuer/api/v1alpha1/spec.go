package v1alpha1

// IssuerSpec is shared by AntreaIssuer and AntreaClusterIssuer. An empty spec is valid: a generated
// ECDSA P-256 CA and Antrea's default policy for the kube-system namespace.
type IssuerSpec struct {
	// CA selects the certificate authority that signs: one the issuer generates and rotates
	// (the default), or one provided by the user in a Secret.
	// +optional
	CA CASpec `json:"ca,omitzero"`

	// Policy limits what this issuer signs. By default: only Antrea's controller certificate
	// (antrea.<antreaNamespace>.svc and antrea.<antreaNamespace>.svc.<clusterDomain>) with
	// server-auth usages, no IP, URI or e-mail SANs and no wildcards.
	// +optional
	Policy PolicySpec `json:"policy,omitzero"`
}

// CASpec is a union: at most one of Generated and Provided. Neither means Generated with defaults.
// +kubebuilder:validation:XValidation:rule="!(has(self.generated) && has(self.provided))",message="set at most one of generated and provided"
type CASpec struct {
	// Generated makes the issuer create its own CA, store it in a Secret and rotate it before it
	// expires.
	// +optional
	Generated *GeneratedCA `json:"generated,omitempty"`

	// Provided makes the issuer sign with a CA the user keeps in a Secret.
	// +optional
	Provided *ProvidedCA `json:"provided,omitempty"`
}

// GeneratedCA configures a CA that the issuer creates and rotates itself.
// +kubebuilder:validation:XValidation:rule="!has(self.duration) || !has(self.renewBefore) || duration(self.renewBefore) < duration(self.duration)",messageExpression="'renewBefore ' + self.renewBefore + ' must be shorter than duration ' + self.duration + ' (renewBefore defaults to 8760h)'"
// +kubebuilder:validation:XValidation:rule="!has(self.renewBefore) || !has(self.minPhaseDuration) || duration(self.renewBefore) >= duration(self.minPhaseDuration) + duration(self.minPhaseDuration) + duration('30m')",messageExpression="'renewBefore ' + self.renewBefore + ' leaves no time to rotate: the two phases of minPhaseDuration ' + self.minPhaseDuration + ' and 30m for re-issuing need renewBefore >= 2 x minPhaseDuration + 30m; raise renewBefore or lower minPhaseDuration'"
type GeneratedCA struct {
	// SecretName is the Secret that holds the CA, in the issuer's namespace (AntreaIssuer) or in
	// the cluster resource namespace (AntreaClusterIssuer). The issuer creates it and never
	// overwrites it. Defaults to "<name>-ca" for an AntreaClusterIssuer and "<name>-ca-keypair"
	// for an AntreaIssuer, so the defaults of the two kinds never name the same Secret.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName,omitempty"`

	// KeyAlgorithm of the CA key.
	// +optional
	// +kubebuilder:default=ECDSAP256
	// +kubebuilder:validation:Enum=ECDSAP256;ECDSAP384;RSA2048;RSA3072;RSA4096;Ed25519
	KeyAlgorithm string `json:"keyAlgorithm,omitempty"`

	// Duration is the lifetime of each CA the issuer generates: from 2h to 87600h (10 years).
	// +optional
	// +kubebuilder:default="43800h"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('2h') && duration(self) <= duration('87600h')",message="must be a duration from 2h to 87600h (10 years), such as 43800h"
	Duration Duration `json:"duration,omitempty"`

	// RenewBefore is how long before a CA expires the issuer starts rotating to a new one: shorter
	// than Duration, and at least 2×MinPhaseDuration + 30m so that both phases and the re-issuing
	// of every certificate fit before the CA expires.
	// +optional
	// +kubebuilder:default="8760h"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="must be a positive duration such as 8760h"
	RenewBefore Duration `json:"renewBefore,omitempty"`

	// MinPhaseDuration is the least time each rotation phase lasts (the new CA trusted before it
	// signs; the old CA trusted after it stops signing), so that kubelet refreshes mounted
	// Secrets and Antrea reloads its CA files before the next step.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('168h')",message="must be a duration from 1s to 168h, such as 5m"
	MinPhaseDuration Duration `json:"minPhaseDuration,omitempty"`
}

// ProvidedCA points at a CA that the user manages.
type ProvidedCA struct {
	// SecretName is the Secret with the CA in tls.crt (the CA certificate, optionally followed by
	// its chain) and tls.key, in the issuer's namespace (AntreaIssuer) or in the cluster resource
	// namespace (AntreaClusterIssuer).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	SecretName string `json:"secretName"`

	// MinPhaseDuration is the least time each phase of a CA replacement lasts. To replace a
	// provided CA without breaking clients, add the new CA to the Secret as next.tls.crt and
	// next.tls.key: the issuer makes every certificate's ca.crt trust both, then signs with the
	// new CA, then drops the old one, as it does for a generated CA. A CA replaced in place
	// (tls.crt and tls.key overwritten) stays trusted until its certificates are re-issued.
	// +optional
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self) <= duration('168h')",message="must be a duration from 1s to 168h, such as 5m"
	MinPhaseDuration Duration `json:"minPhaseDuration,omitempty"`
}

// PolicySpec limits what the issuer signs.
// +kubebuilder:validation:XValidation:rule="!has(self.minDuration) || !has(self.maxDuration) || duration(self.minDuration) <= duration(self.maxDuration)",message="minDuration must not exceed maxDuration"
type PolicySpec struct {
	// AntreaNamespace is the namespace Antrea runs in; it determines the allowed DNS names.
	// +optional
	// +kubebuilder:default=kube-system
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	AntreaNamespace string `json:"antreaNamespace,omitempty"`

	// ClusterDomain is the cluster's DNS domain.
	// +optional
	// +kubebuilder:default=cluster.local
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ClusterDomain string `json:"clusterDomain,omitempty"`

	// DNSNames, when set, replaces the default allowed DNS names. Each entry is an exact name or
	// a pattern in which '*' stands for exactly one DNS label (for example "antrea.*.svc", or "*"
	// for any single-label name).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	DNSNames []string `json:"dnsNames,omitempty"`

	// CommonNames, when set, are the allowed subject common names (same syntax as DNSNames), and a
	// request need not carry a DNS name: a certificate identified by its common name alone is
	// allowed. By default a common name must be an allowed DNS name or Antrea's Service name
	// ("antrea"), and every request carries a DNS name.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	CommonNames []string `json:"commonNames,omitempty"`

	// AllowIPAddresses permits IP address SANs; a request may then be identified by IP addresses
	// alone.
	// +optional
	AllowIPAddresses bool `json:"allowIPAddresses,omitempty"`

	// Usages are the key usages a request may ask for, in cert-manager's spelling. Defaults to
	// digital signature, key encipherment and server auth, which is what Antrea needs.
	// +optional
	// +kubebuilder:validation:MaxItems=23
	// +listType=set
	Usages []KeyUsage `json:"usages,omitempty"`

	// MinDuration is the shortest certificate lifetime a request may ask for.
	// +optional
	// +kubebuilder:default="1h"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('87600h')",message="must be a positive duration up to 87600h, such as 1h"
	MinDuration Duration `json:"minDuration,omitempty"`

	// MaxDuration is the longest certificate lifetime a request may ask for. A certificate never
	// outlives the CA that signs it: a longer request is cut to the CA's expiry.
	// +optional
	// +kubebuilder:default="8760h"
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s') && duration(self) <= duration('87600h')",message="must be a positive duration up to 87600h, such as 8760h"
	MaxDuration Duration `json:"maxDuration,omitempty"`
}

// KeyUsage is a cert-manager key usage name.
// +kubebuilder:validation:Enum="signing";"digital signature";"content commitment";"key encipherment";"key agreement";"data encipherment";"cert sign";"crl sign";"encipher only";"decipher only";"any";"server auth";"client auth";"code signing";"email protection";"s/mime";"ipsec end system";"ipsec tunnel";"ipsec user";"timestamping";"ocsp signing";"microsoft sgc";"netscape sgc"
type KeyUsage string
