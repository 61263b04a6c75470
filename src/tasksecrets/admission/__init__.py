"""The admission core, below both of its users (the webhook's HTTPS server and the local cluster).

The config (:mod:`.config`), the pure Mutator (:mod:`.mutator`: a pod in, a patch or a denial
out), RFC 6902 patches (:mod:`.patches`), AdmissionReview in and out (:mod:`.reviews`, with JSON
through :mod:`.jsoncodec`) and answers remembered by pod view (:mod:`.memo`). No I/O of its own
but reading a config file.
"""
