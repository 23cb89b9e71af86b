#!/bin/sh
# Configures a freshly installed Debian rootfs as the cibox sandbox image.
# Runs INSIDE the target root: `RUN sh configure-rootfs.sh` in the Dockerfile,
# `chroot <rootfs> sh /tmp/configure-rootfs.sh` in tools/sandbox-image.ts.
# The runner (/opt/cibox/runner.py) may be added before or after (the offline recipe adds it as a thin layer).
set -eu

# Unprivileged sandbox user (uid/gid 1000), home is /tmp (tmpfs at run time).
if ! getent group sandbox >/dev/null; then groupadd -g 1000 sandbox; fi
if ! getent passwd sandbox >/dev/null; then
  useradd -u 1000 -g 1000 -d /tmp -M -s /bin/sh sandbox
fi

mkdir -p /mnt/data /opt/cibox/mplconfig
chown 1000:1000 /mnt/data
chmod 0755 /mnt/data
chmod 0755 /opt/cibox
[ ! -f /opt/cibox/runner.py ] || chmod 0644 /opt/cibox/runner.py

# Precompile matplotlib's font cache into a read-only location; the runner
# copies it into the writable MPLCONFIGDIR (/tmp/...) at start-up.
MPLCONFIGDIR=/opt/cibox/mplconfig MPLBACKEND=Agg HOME=/tmp python3 -c '
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib import font_manager
font_manager.findfont("DejaVu Sans")
fig = plt.figure(); plt.plot([1, 2]); fig.canvas.draw(); plt.close(fig)
'
ls /opt/cibox/mplconfig | grep -q fontlist || { echo "matplotlib font cache missing" >&2; exit 1; }
chmod -R a+rX /opt/cibox

# Byte-compile the runner (PYTHONDONTWRITEBYTECODE is set at run time).
[ ! -f /opt/cibox/runner.py ] || python3 -m py_compile /opt/cibox/runner.py 2>/dev/null || true

# Shrink.
apt-get clean 2>/dev/null || true
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb \
       /var/cache/debconf/*-old /var/lib/dpkg/*-old /var/log/*.log /var/log/apt/* \
       /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/lintian/* \
       /tmp/* /root/.cache 2>/dev/null || true
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} + 2>/dev/null || true
echo "configure-rootfs: ok"
