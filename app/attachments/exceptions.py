"""What an upload may be refused for, beyond the errors every route shares."""

from __future__ import annotations

from app.errors import InvalidInput, TousuError


class AttachmentTooLarge(TousuError):
    status, slug, title = 413, "attachment-too-large", "The attachment is larger than the limit"


class UnsupportedAttachmentType(TousuError):
    status, slug, title = 415, "unsupported-attachment-type", "Not a type of attachment tousu keeps"


class UncleanableImage(InvalidInput):
    slug, title = "image-not-kept", "The image cannot be read or cleaned of its location"
