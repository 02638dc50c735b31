"""The one access policy: who may do what, for the API, the chart images and the websockets.

Django's model permissions decide, the way the admin and DRF's `DjangoModelPermissions` do:

| action   | permission  | used for                                  |
|----------|-------------|-------------------------------------------|
| `view`   | `view_*`    | reading (lists, details, CSV, images, live streams) |
| `add`    | `add_*`     | creating, re-run (it creates a run)       |
| `change` | `change_*`  | refresh, cancel                           |

Operations that are neither a plain read nor a plain create (re-run, cancel, refresh) take
their action from `OPERATION_ACTIONS`, here, so the API and the admin cannot disagree:
`@requires(operation_action("rerun"), Calculation)` on the endpoint and
`@admin.action(permissions=[operation_action("rerun")])` in the admin.

A bearer token acts with its user's permissions; an inactive user has none; a superuser has
all of them. Credentials are someone else's job (ninja auth, `request_user`, the websocket
middleware): this module only answers "may this user do that".

A route declares its rule once, where it is defined: a ninja operation with `requires`
(ninja has authenticated the request), a plain Django view with `view_requires` (which
authenticates a bearer token or the session itself):

    @router.post("", ...)
    @requires("add", Calculation)
    def calculation_create_endpoint(request, payload): ...

    @view_requires("view", Function)
    def chart_image(request, function_id): ...

`tests/security/test_access.py` walks every route and fails for one that declares nothing.
"""

import functools
from collections.abc import Callable, Iterable
from typing import Any, Literal, TypeVar

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as AuthUser
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest

from apps.accounts.auth import bearer_token_parse
from apps.accounts.selectors import api_token_user
from apps.core.errors import DomainError, NotAuthenticatedError, PermissionDeniedError
from apps.core.http import error_response

Action = Literal["view", "add", "change"]
ACTIONS: tuple[Action, ...] = ("view", "add", "change")
ACCESS_ATTRIBUTE = "access_rule"

Operation = Literal["rerun", "cancel", "refresh"]
# A re-run queues a new run with an old one's inputs: it creates, so it needs `add`, and a
# `change`-only user (who may cancel or refresh what exists) may not create runs through it.
OPERATION_ACTIONS: dict[Operation, Action] = {"rerun": "add", "cancel": "change", "refresh": "change"}

View = TypeVar("View", bound=Callable)


def permission_name(*, model: type[models.Model], action: Action) -> str:
    """`calculations.view_calculation`: the `app_label.codename` Django's has_perm takes."""
    opts = model._meta
    return f"{opts.app_label}.{action}_{opts.model_name}"


def operation_action(operation: Operation) -> Action:
    """The action (`add`, `change`) a named operation needs, in the API and the admin alike."""
    return OPERATION_ACTIONS[operation]


User = AuthUser | AnonymousUser | None


def user_may(*, user: User, model: type[models.Model], action: Action) -> bool:
    return user_has_permission(user=user, permission=permission_name(model=model, action=action))


def user_has_permission(*, user: User, permission: str) -> bool:
    """Whether an active, authenticated user holds `permission` (`app_label.codename`)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    # has_perm answers True for an active superuser and caches the user's permissions on the
    # object, so several checks in one request cost one query.
    return user.has_perm(permission)


# API tokens act as their owner, so creating one for someone is acting as them: a user creates
# tokens for themselves; with this permission also for other users who are not superusers;
# only a superuser creates one for a superuser (there is nothing above that to escalate to).
TOKENS_FOR_OTHERS = "accounts.add_apitoken_for_others"


def token_owners(*, actor: User) -> QuerySet:
    """The users `actor` may create an API token for (the admin's add form offers these)."""
    users = get_user_model()._default_manager.order_by("username", "pk")
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return users.none()
    if actor.is_superuser:
        return users.all()
    if actor.has_perm(TOKENS_FOR_OTHERS):
        return users.filter(Q(is_superuser=False) | Q(pk=actor.pk))
    return users.filter(pk=actor.pk)


def users_permissions_now(*, user_ids: Iterable[int], permissions: Iterable[str]) -> dict[int, set[str]]:
    """For users held a long time (a websocket's): which of `permissions` each holds now, read
    afresh. A user object caches its permissions on its first `has_perm`, so asking the one
    a socket opened with would answer with the permissions of that moment. A user missing
    from the answer no longer exists."""
    wanted = list(permissions)
    held = {}
    for user in get_user_model()._default_manager.filter(pk__in=set(user_ids)):
        held[user.pk] = {name for name in wanted if user_has_permission(user=user, permission=name)}
    return held


def user_has_permission_now(*, user_id: int, permission: str) -> bool:
    """`user_has_permission`, read afresh (see `users_permissions_now`)."""
    held = users_permissions_now(user_ids=[user_id], permissions=[permission])
    return permission in held.get(user_id, set())


def access_check(*, user: User, model: type[models.Model], action: Action, field: str | None = None) -> None:
    """Raises PermissionDeniedError (403 in the one error shape) unless the user may."""
    if not user_may(user=user, model=model, action=action):
        verbose = model._meta.verbose_name_plural
        raise PermissionDeniedError(
            f"You need the '{permission_name(model=model, action=action)}' permission to {action} {verbose}.",
            field=field,
        )


def requires(action: Action, model: type[models.Model]) -> Callable[[View], View]:
    """Declares (and enforces) the permission a ninja operation needs.

    ninja has authenticated the request before the view runs (`request.user` is the session's
    or the token's user), so the check sits right in front of the endpoint's body.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            access_check(user=getattr(request, "user", None), model=model, action=action)
            return view(request, *args, **kwargs)

        setattr(checked, ACCESS_ATTRIBUTE, (action, model))
        return checked  # type: ignore[return-value]  # functools.wraps: the view's own signature

    return decorate


def view_requires(action: Action, model: type[models.Model]) -> Callable[[View], View]:
    """`requires` for a plain Django view: authenticates (`request_user`) and checks, and
    answers 401/403 in the one error shape itself."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; one of {ACTIONS}")

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            try:
                access_check(user=request_user(request), model=model, action=action)
            except DomainError as error:
                return error_response(error)
            return view(request, *args, **kwargs)

        setattr(checked, ACCESS_ATTRIBUTE, (action, model))
        return checked  # type: ignore[return-value]  # functools.wraps: the view's own signature

    return decorate


def access_rule(view: Callable) -> tuple[Action, type[models.Model]] | None:
    """What `requires` declared on a view, or None (the route-walking test reads it)."""
    return getattr(view, ACCESS_ATTRIBUTE, None)


def request_user(request: HttpRequest) -> AuthUser | AnonymousUser:
    """The user of a plain Django view (not ninja): a bearer token, else the session.

    Raises NotAuthenticatedError (401) for a bad token or nobody at all; a token that is
    present but wrong is never overridden by a session.
    """
    header = request.headers.get("Authorization", "")
    if header:
        raw = bearer_token_parse(header)
        user = api_token_user(raw=raw) if raw is not None else None
        if user is None:
            raise NotAuthenticatedError("Invalid or revoked bearer token.")
        return user
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        raise NotAuthenticatedError("Authentication required: log in to the admin or send a bearer token.")
    return user
