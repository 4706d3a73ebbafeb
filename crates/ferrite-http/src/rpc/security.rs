//! API access control: loopback by default, `API.Authorizations` bearer
//! tokens, Origin/Referer checks and `API.HTTPHeaders` (CORS), as Kubo.
