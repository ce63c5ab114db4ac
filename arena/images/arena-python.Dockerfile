# Python tasks: the base image plus pytest (Debian's package, so no index is needed at run time).
FROM arena-base
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pytest \
 && rm -rf /var/lib/apt/lists/*
