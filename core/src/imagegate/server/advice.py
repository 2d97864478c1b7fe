"""What a server's caller is told: the error's message, never advice meant for the machine's
owner, and what the caller can do over HTTP.

The core keeps owner advice (set IMAGEGATE_GITEE_TOKEN, run `imagegate keys set`, `pip
install`) in `hint`, which the server never sends; a plugin may still write such advice into
its message, so every clause that carries some is dropped here as well. Then, for the errors
a caller can fix, the HTTP way to fix them is added: how to send a token, where the model
list is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagegate.errors import AuthError, AuthRequired, ImagegateError, InvalidModel, NotInstalled
from imagegate.models import Provider

__all__ = ["Caller", "caller_message", "without_owner_advice"]

OWNER_ADVICE = re.compile(
    r"IMAGEGATE_[A-Z0-9_]+|\bHF_TOKEN\b|`?imagegate (?:keys|models|providers|serve|generate)\b"
    r"|--(?:token|api-key)\b|\bpip install\b|\bkeys file\b"
)
"""What only the owner of the server's machine can act on."""

_SENTENCES = re.compile(r"(?<=[.!?])\s+(?=[A-Z`])")
_IMPERATIVE = re.compile(
    r"^\s*(?:then\s+)?(?:install|run|set|pass|check|create|add|use|store|export)\b", re.I
)


@dataclass(frozen=True)
class Caller:
    """What the server knows about who is asking: whether it is protected by an API key,
    and whether the caller brought provider tokens of its own."""

    protected: bool = False
    sent_tokens: bool = False


def without_owner_advice(message: str) -> str:
    """`message` less every clause (`; `-separated, or the part after a `: ` lead-in) and
    sentence that tells someone to set a variable, run a command or install a package."""
    kept_sentences = []
    for sentence in _SENTENCES.split(message):
        kept = []
        for index, clause in enumerate(sentence.split("; ")):
            found = OWNER_ADVICE.search(clause)
            if found is None:
                kept.append(clause)
                continue
            lead_in = clause.rfind(": ", 0, found.start())
            if lead_in > 0 and not _IMPERATIVE.match(clause):
                kept.append(clause[:lead_in])  # "the token was refused: set IMAGEGATE_..."
            elif index == 0:
                break  # what follows leans on the clause that went: the sentence goes too
        if kept:
            kept_sentences.append("; ".join(kept))
    return " ".join(kept_sentences).strip()


def caller_message(
    exc: ImagegateError, provider: Provider | None, caller: Caller = Caller()
) -> str:
    """The message the server sends for `exc`: fit for a remote caller."""
    message = without_owner_advice(exc.message)
    if isinstance(exc, AuthRequired) and provider is not None:
        return _send_a_token(provider, caller)
    if isinstance(exc, AuthError) and provider is not None:
        example = f"{provider.auth_prefix}:<token>"
        if caller.protected and not caller.sent_tokens:
            return _join(
                message,
                f"the token this server holds for {provider.display_name} did not work; "
                f"send your own as `X-Imagegate-Token: {example}`",
            )
        if message != exc.message:  # the plugin's advice was for the owner: say it our way
            return _join(message, f"check the {provider.display_name} token you sent ({example})")
    if isinstance(exc, NotInstalled):
        return f"{message.rstrip('. ')} on this server. GET /v1/models lists the models it serves."
    if isinstance(exc, InvalidModel) and "/v1/models" not in message:
        return _join(message, "GET /v1/models lists the models this server serves.")
    return message or exc.code


def _send_a_token(provider: Provider, caller: Caller) -> str:
    example = f"{provider.auth_prefix}:<token>"
    if caller.protected:
        how = (
            f"this server holds no token for {provider.display_name}: send your own as "
            f"`X-Imagegate-Token: {example}`"
        )
    else:
        how = f"{provider.display_name} needs a token: send `Authorization: Bearer {example}`"
    if provider.key_url:
        how += f" (get one at {provider.key_url})"
    return how


def _join(message: str, advice: str) -> str:
    if not message:
        return advice
    if message.endswith((".", "?", "!")):
        return f"{message} {advice[0].upper()}{advice[1:]}"
    return f"{message}; {advice}"
