"""``cyberscan demo``: scan a fictional museum served on this computer, without internet or root.

In-process servers on 127.0.0.1 (ports chosen by the system): a DNS server for ``museum-demo.test``,
HTTPS for its website and MTA-STS policy (certificates from a demo CA minted at run time), plain HTTP
that redirects, and SMTP with STARTTLS. The scan runs whatever checks the default profile selects,
with the profile's port settings pointed at these servers, so new checks appear in the demo by
themselves.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .. import catalogue as catalogue_mod
from .. import registry as registry_mod
from ..assessment import Assessment, assess
from ..catalogue import Catalogue, Profile
from ..options import Nameserver, ScanOptions
from ..registry import Registry
from . import museum
from .localdns import LocalDnsServer, ZoneSet
from .pki import DemoCA, dkim_public_key
from .servers import SmtpServer, WebServer, sni_context, tls_context

DOMAIN = museum.DOMAIN
FORMATS = ("html", "json", "markdown")
ADDRESS = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DemoSetup:
    """What a scan of the running demo museum needs."""

    domain: str
    options: ScanOptions
    settings: dict[str, object]
    ca_file: Path

    def profile(self, base: Profile) -> Profile:
        return replace(base, settings={**base.settings, **self.settings})


@contextlib.contextmanager
def demo_museum(*, now: datetime | None = None, timeout: float = 3.0) -> Iterator[DemoSetup]:
    """Start the demo museum's servers; stop them and remove the demo CA when the block ends."""
    now = now or datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="cyberscan-demo-") as tmp, contextlib.ExitStack() as stack:
        folder = Path(tmp)
        ca = DemoCA(folder, now)
        site = ca.issue("website", [DOMAIN, f"www.{DOMAIN}"], valid_days=21, age_days=69)
        sts = ca.issue("mta-sts", [f"mta-sts.{DOMAIN}"], valid_days=60)
        mail = ca.issue("mail", [f"mail.{DOMAIN}"], valid_days=75)

        zones = ZoneSet()
        zones.add_text(DOMAIN, museum.zone_text(address=ADDRESS, dkim_key=dkim_public_key()))
        zones.add_text(museum.OLD_HOST_ZONE, museum.old_host_zone_text())
        dns = LocalDnsServer(zones, host=ADDRESS, port=0)
        stack.enter_context(dns)

        site_ctx = tls_context(site.cert_file, site.key_file)
        https_ctx = sni_context(site_ctx, {f"mta-sts.{DOMAIN}": tls_context(sts.cert_file, sts.key_file)})
        # the HTTPS port is needed by the HTTP redirects, so the router learns it after binding
        router = museum.Router(now=now, https_port=0)
        https = WebServer(router, context=https_ctx, banner=museum.WEB_BANNER).start()
        stack.callback(https.stop)
        router.https_port = https.port
        http = WebServer(router, context=None, banner=museum.WEB_BANNER).start()
        stack.callback(http.stop)
        smtp = SmtpServer(f"mail.{DOMAIN}", tls_context(mail.cert_file, mail.key_file), banner=museum.SMTP_BANNER)
        smtp.start()
        stack.callback(smtp.stop)

        settings: dict[str, object] = {
            "dns_port": dns.port,
            "http_port": http.port,
            "https_port": https.port,
            "smtp_port": smtp.port,
        }
        options = ScanOptions(
            timeout=timeout,
            nameservers=(Nameserver(ADDRESS, dns.port),),
            ca_bundle=str(ca.ca_file),
            allow_private=True,
            dkim_selectors=(museum.DKIM_SELECTOR,),
            extra_hosts=(museum.EXPO_HOST,),
        )
        yield DemoSetup(DOMAIN, options, settings, ca.ca_file)


def scan_demo(
    *, catalogue: Catalogue | None = None, registry: Registry | None = None, profile: str = "default"
) -> Assessment:
    """Run the demo scan and return its assessment (servers are stopped again afterwards)."""
    registry = registry or registry_mod.load()
    catalogue = catalogue or catalogue_mod.builtin()
    base = catalogue_mod.profile(catalogue, profile)
    with demo_museum() as setup:
        return assess([setup.domain], profile=setup.profile(base), options=setup.options, catalogue=catalogue,
                      registry=registry)
