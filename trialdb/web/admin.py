"""Account administration: create users, set role and sites, deactivate, reset
a lost second factor."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    EmailField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from trialdb.crf.definitions import code_label
from trialdb.crf.forms import options
from trialdb.crf.messages import message, translated_meta
from trialdb.errors import NotFound, UserError
from trialdb.models import Site, User
from trialdb.security import second_factor
from trialdb.services import accounts, staff
from trialdb.vocab import Role
from trialdb.web.base import SignedInUser, actor, admin_required, commit, db
from trialdb.web.i18n import language, t
from trialdb.web.notice import notify

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _user_form(sites: list[Site], new: bool) -> FlaskForm:
    lang = language()
    required = InputRequired(message=message("required", lang))

    role_choices = [(r.value, code_label(Role, r.value, lang)) for r in Role]
    site_choices = [(s.code, f"{s.code} · {s.name}") for s in sites]

    class UserForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
        role = SelectField(t("role"), validators=[required], choices=options(role_choices))
        sites = SelectMultipleField(t("sites"), choices=options(site_choices),
                                    validators=[Optional()])
        all_sites = BooleanField(t("all_sites"))

    if new:
        UserForm.email = EmailField(t("email"), validators=[required, Length(max=254)])
        UserForm.display_name = StringField(t("display_name"), validators=[required,
                                                                           Length(max=200)])
        UserForm.password = PasswordField(t("password"), validators=[required, Length(max=1024)])
    UserForm.Meta = translated_meta(lang)
    return UserForm()


def _sites() -> list[Site]:
    from sqlalchemy import select

    return list(db().scalars(select(Site).order_by(Site.code)))


@bp.route("/users")
@login_required  # type: ignore[untyped-decorator]
@admin_required
def users() -> str:
    return render_template("admin_users.html", users=staff.list_users(db(), actor()))


@bp.route("/users/new", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@admin_required
def new_user() -> Response | str | tuple[str, int]:
    form = _user_form(_sites(), new=True)
    errors: list[str] = []
    if request.method == "POST":
        if form.validate():
            try:
                accounts.create_user(
                    db(), actor(), email=form.email.data, display_name=form.display_name.data,
                    role=Role(form.role.data), password=form.password.data,
                    site_codes=list(form.sites.data or []),
                    all_sites=True if form.all_sites.data else None)
            except UserError as error:
                _attach(form, errors, error)
                return render_template("admin_user.html", form=form, user=None,
                                       form_errors=errors), error.status
            commit()
            notify("account_created")
            return redirect(url_for("admin.users"))
        errors.append(t("fix_errors"))
        return render_template("admin_user.html", form=form, user=None, form_errors=errors), 422
    return render_template("admin_user.html", form=form, user=None, form_errors=errors)


def _attach(form: FlaskForm, errors: list[str], error: UserError) -> None:
    name = {"site": "sites"}.get(error.field or "", error.field or "")
    if name and name in form:
        form[name].errors = [*form[name].errors, error.message(language())]
    else:
        errors.append(error.message(language()))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@admin_required
def edit_user(user_id: int) -> Response | str | tuple[str, int]:
    user = db().get(User, user_id) if 0 < user_id <= 2**31 - 1 else None
    if user is None:
        raise NotFound("No such account.", "Compte introuvable.")
    form = _user_form(_sites(), new=False)
    errors: list[str] = []
    if request.method == "GET":
        form.role.data = user.role.value
        form.sites.data = [m.site.code for m in user.memberships]
        form.all_sites.data = user.all_sites
        return render_template("admin_user.html", form=form, user=user, form_errors=errors)
    if form.validate():
        try:
            staff.update_access(db(), actor(), user.id, role=Role(form.role.data),
                                site_codes=list(form.sites.data or []),
                                all_sites=bool(form.all_sites.data))
        except UserError as error:
            _attach(form, errors, error)
            return render_template("admin_user.html", form=form, user=user,
                                   form_errors=errors), error.status
        commit()
        _keep_own_session(user)
        notify("account_saved")
        return redirect(url_for("admin.users"))
    errors.append(t("fix_errors"))
    return render_template("admin_user.html", form=form, user=user, form_errors=errors), 422


def _keep_own_session(user: User) -> None:
    """A change to an account ends that user's sessions; when administrators
    change their own account, this browser's session goes on (the others end)."""
    if str(user.id) == current_user.id:
        login_user(SignedInUser(user))


class ResetSecondFactorForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
    reason = TextAreaField(validators=[Length(max=1000)])


@bp.route("/users/<int:user_id>/second-factor", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
@admin_required
def reset_second_factor(user_id: int) -> Response | str | tuple[str, int]:
    """Remove a user's lost second factor, with a reason (audited as a permission
    change); they set up a new one at their next sign-in."""
    user = db().get(User, user_id) if 0 < user_id <= 2**31 - 1 else None
    if user is None:
        raise NotFound("No such account.", "Compte introuvable.")
    form = ResetSecondFactorForm()
    errors: list[str] = []
    if request.method == "GET" or user.totp_secret is None:
        page = render_template("admin_second_factor.html", form=form, user=user,
                               form_errors=errors)
        return page if request.method == "GET" else (page, 409)
    if form.validate():
        try:
            second_factor.reset(db(), actor(), user.id, form.reason.data or "")
        except UserError as error:
            _attach(form, errors, error)
            return render_template("admin_second_factor.html", form=form, user=user,
                                   form_errors=errors), error.status
        commit()
        _keep_own_session(user)
        notify("account_saved")
        return redirect(url_for("admin.edit_user", user_id=user.id))
    errors.append(t("fix_errors"))
    return render_template("admin_second_factor.html", form=form, user=user,
                           form_errors=errors), 422


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@login_required  # type: ignore[untyped-decorator]
@admin_required
def set_active(user_id: int) -> Response:
    if not 0 < user_id <= 2**31 - 1:
        raise NotFound("No such account.", "Compte introuvable.")
    staff.set_active(db(), actor(), user_id, request.form.get("active") == "1")
    commit()
    notify("account_saved")
    return redirect(url_for("admin.users"))
