"""Every error hashmatch raises, under one root.

The tree::

    HashmatchError                    root; has ``reason`` and renders as ``source:line: reason``
    ├── InputError                    the user's input is wrong (exit code 2, HTTP 400/422)
    │   ├── DigestError               a digest value is malformed (wrong length, not hex)
    │   ├── UnsupportedFormat         a file is not in the format asked for, or in none we know
    │   ├── RecordError               a record of a recognised file is malformed (``--strict``)
    │   ├── ConfigurationError        a setting or an option is invalid
    │   │   └── NotLicensed           a perceptual vendor asked for without a licence
    │   ├── TooLarge                  a request is over a configured size or item limit
    │   └── VettingError              a list file was refused (signature, checksum, bundle)
    │       ├── SignatureError        no trusted signature, or a checksum that disagrees
    │       └── BundleError           a bundle is malformed, or not what its manifest pins
    ├── NotFound                      a named list, version, run or snapshot does not exist
    ├── Conflict                      the thing exists already (a list name, say)
    ├── AdapterRegistryError          two adapters claim one name, or an adapter is broken
    ├── IngestError                   an ingest failed; nothing of it was committed
    ├── SnapshotError                 a snapshot is missing, corrupt or could not be published
    ├── StoreError                    the catalog or verdict store failed
    ├── NotReady                      nothing to serve yet: no list loaded, no snapshot published
    ├── Cancelled                     a long operation was stopped on request; nothing was kept
    ├── ExchangeError                 a list exchange failed after its retries; the journal is kept
    │   ├── ExchangeAuthError         the exchange refused the credentials
    │   └── CursorRejected            the exchange refuses the cursor a fetch would resume from
    ├── VendorError                   a perceptual vendor's library or service failed
    └── FileNotHashable               a perceptual vendor cannot hash one file (reported, not fatal)

Errors carry their context as attributes (``source``, ``line``, ``reason``) and render as
``file:line: reason``. The CLI maps classes to exit codes and the web layer to HTTP statuses;
the core never exits or speaks HTTP.
"""

from __future__ import annotations

__all__ = [
    "AdapterRegistryError",
    "BundleError",
    "Cancelled",
    "ConfigurationError",
    "Conflict",
    "CursorRejected",
    "DigestError",
    "ExchangeAuthError",
    "ExchangeError",
    "FileNotHashable",
    "HashmatchError",
    "IngestError",
    "InputError",
    "NotFound",
    "NotLicensed",
    "NotReady",
    "RecordError",
    "SignatureError",
    "SnapshotError",
    "StoreError",
    "TooLarge",
    "UnsupportedFormat",
    "VendorError",
    "VettingError",
]


class HashmatchError(Exception):
    """Root of every error hashmatch raises on purpose."""

    http_status: int = 500

    def __init__(self, reason: str, *, source: str | None = None, line: int | None = None) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        super().__init__(self.render())

    def render(self) -> str:
        """``source:line: reason``, leaving out the parts that are not known."""
        if self.source is None:
            return self.reason if self.line is None else f"line {self.line}: {self.reason}"
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


class InputError(HashmatchError):
    """The user's input is wrong; saying so is the whole answer."""

    http_status = 400


class DigestError(InputError):
    """A digest value is malformed: wrong length for its algorithm, not hex, not base64."""

    http_status = 422


class UnsupportedFormat(InputError):
    """The file is not in the format that was asked for, or in any format we know."""

    http_status = 415


class RecordError(InputError):
    """A record of a recognised file is malformed (raised instead of a warning under strict)."""

    http_status = 422


class ConfigurationError(InputError):
    """A setting or an option has a value that cannot work."""


class VettingError(InputError):
    """A list file failed vetting: refused, and nothing of it was committed."""

    http_status = 422


class SignatureError(VettingError):
    """A file lacks the trusted signature its list requires, or its checksum disagrees."""


class BundleError(VettingError):
    """A bundle is malformed, or its entries are not the ones its manifest describes."""


class NotFound(HashmatchError):
    """A named list, list version, run or snapshot does not exist."""

    http_status = 404


class Conflict(HashmatchError):
    """The thing to create exists already."""

    http_status = 409


class AdapterRegistryError(HashmatchError):
    """Two adapters claim the same name, or an adapter could not be loaded."""


class IngestError(HashmatchError):
    """An ingest failed; nothing of it was committed and the previous version still serves."""

    http_status = 422


class SnapshotError(HashmatchError):
    """A snapshot is missing or corrupt, or could not be built or published."""


class StoreError(HashmatchError):
    """The catalog or verdict store failed."""

    http_status = 503


class NotReady(HashmatchError):
    """Nothing to serve yet: no list has been loaded, or no snapshot published."""

    http_status = 503


class TooLarge(InputError):
    """A request is over a configured limit (body size, items in a bulk request)."""

    http_status = 413


class Cancelled(HashmatchError):
    """A long operation (a scan) was stopped on request; nothing of it was kept."""


class NotLicensed(ConfigurationError):
    """A perceptual vendor was asked for without a licence configured for it."""


class ExchangeError(HashmatchError):
    """A list exchange answered wrongly, or not at all after the retries; nothing was lost."""

    http_status = 502


class ExchangeAuthError(ExchangeError):
    """The exchange refused the credentials (HTTP 401 or 403)."""


class CursorRejected(ExchangeError):
    """The exchange no longer accepts the cursor an interrupted fetch would resume from."""


class VendorError(HashmatchError):
    """A perceptual vendor's library or service failed; exact matching is unaffected."""

    http_status = 502


class FileNotHashable(HashmatchError):
    """A perceptual vendor cannot hash this one file; the reason is reported with it."""
