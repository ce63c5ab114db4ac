# The base of every sandbox image: a minimal Debian bookworm (arena-rootfs, made by debootstrap in
# arena/images.py) plus the two users a sandbox needs. Agent commands run as `agent` (1000); the
# container's main process runs as `keeper` (1001), so an agent's `kill -9 -1` cannot stop it.
FROM arena-rootfs
RUN groupadd --gid 1000 agent \
 && useradd --uid 1000 --gid 1000 --home-dir /work --no-create-home --shell /bin/bash agent \
 && groupadd --gid 1001 keeper \
 && useradd --uid 1001 --gid 1001 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin keeper \
 && mkdir -p /work \
 && chown agent:agent /work \
 && chmod 1777 /tmp
ENV LANG=C.UTF-8 \
    HOME=/work \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /work
CMD ["sleep", "infinity"]
