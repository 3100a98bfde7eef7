module antrea.io/antrea-issuer

go 1.26.0
