"""The webhook's certificates: the CA and serving certificates (:mod:`.authority`), where they are
stored (:mod:`.storage`: the Kubernetes Secret and ``certDir``) and how the server reloads them
without dropping a request (:mod:`.reload`)."""
