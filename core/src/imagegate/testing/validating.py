"""`check_plugin`'s look at a plugin's `validate`: its own models' default requests must
pass, and another provider's model must not make it fail (the hook runs for every model)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import Model, Provider
from ..request import ImageRequest, Problem
from ..resolve import resolve_request

if TYPE_CHECKING:
    import pluggy

    from .check import CheckReport

__all__ = ["OTHER_MODEL", "check_validate", "resolved"]

OTHER_PROVIDER = Provider(
    id="check-other",
    display_name="Another provider",
    model_prefix="check-other",
    auth_prefix="check-other",
    auth="none",
)
OTHER_MODEL = Model(id="any-model", display_name="Another model", provider=OTHER_PROVIDER)


def resolved(model: Model, **params: Any) -> ImageRequest:
    """The request `generate` receives for a default call of `model`."""
    request = ImageRequest(prompt="a lighthouse at dawn", model=model.full_id, **params)
    return resolve_request(request, model)[0]


def check_validate(pm: pluggy.PluginManager, models: list[Model], report: CheckReport) -> None:
    """The plugin's `validate` on its models' default requests and on another provider's."""
    impls = [
        i for i in pm.hook.validate.get_hookimpls() if not i.plugin_name.startswith("imagegate.")
    ]
    for impl in impls:
        for model in [*models, OTHER_MODEL]:
            mine = model is not OTHER_MODEL
            args = {"request": resolved(model), "model": model}
            try:
                found = list(impl.function(**{a: args[a] for a in impl.argnames}) or ())
            except Exception as exc:
                if mine:
                    whose, advice = model.full_id, "return imagegate.Problem items instead"
                else:
                    whose = f"another provider's model ({model.full_id})"
                    advice = (
                        "validate is called for every provider's models: return [] for "
                        "models that are not yours (compare model.provider.id)"
                    )
                report.problems.append(
                    f"validate raised {type(exc).__name__}: {exc} for {whose}; {advice}"
                )
                continue
            if any(not isinstance(p, Problem) for p in found):
                report.problems.append(
                    "validate must return imagegate.Problem(param, message) items, or None"
                )
            elif found:
                whose = "its own" if mine else "another provider's"
                report.problems.append(
                    f"validate rejects {whose} default request for {model.full_id} "
                    f"({'; '.join(p.message for p in found)}); defaults must pass"
                )
    if impls:
        report.checked.append("validate")
