"""The signed-in user's own account: changing their password (every role)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import login_required, login_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import InputRequired, Length

from trialdb.crf.messages import message, translated_meta
from trialdb.errors import UserError
from trialdb.services import password_change
from trialdb.services.accounts import MIN_PASSWORD_LENGTH
from trialdb.web.base import SignedInUser, actor, commit, db
from trialdb.web.i18n import language, t
from trialdb.web.notice import notify

bp = Blueprint("account", __name__, url_prefix="/account")


def _password_form() -> FlaskForm:
    lang = language()
    required = InputRequired(message=message("required", lang))

    class PasswordForm(FlaskForm):  # type: ignore[misc]  # flask_wtf ships no types
        current = PasswordField(t("current_password"), validators=[required, Length(max=1024)])
        new = PasswordField(t("new_password"), validators=[required, Length(max=1024)])
        repeated = PasswordField(t("new_password_again"),
                                 validators=[required, Length(max=1024)])

    PasswordForm.Meta = translated_meta(lang)
    return PasswordForm()


def _page(form: FlaskForm, errors: list[str], status: int = 200) -> tuple[str, int]:
    return render_template("account_password.html", form=form, form_errors=errors,
                           min_length=MIN_PASSWORD_LENGTH), status


@bp.route("/password", methods=["GET", "POST"])
@login_required  # type: ignore[untyped-decorator]
def change_password() -> Response | tuple[str, int]:
    form = _password_form()
    if request.method == "GET":
        return _page(form, [])
    if not form.validate():
        return _page(form, [t("fix_errors")], 422)
    try:
        result = password_change.change_own_password(
            db(), actor(), current=form.current.data or "", new=form.new.data or "",
            repeated=form.repeated.data or "")
    except UserError as error:  # nothing was written
        if error.field in form:
            form[error.field].errors = [error.message(language())]
            return _page(form, [], error.status)
        return _page(form, [error.message(language())], error.status)
    signed_in = SignedInUser(result.user) if result.user is not None else None
    commit()  # a wrong current password is counted and audited, as at sign-in
    if signed_in is None:
        if result.locked_until is not None:
            form.current.errors = [t("locked", until=result.locked_until.strftime("%H:%M"))]
            return _page(form, [], 429)
        form.current.errors = [t("wrong_current_password")]
        return _page(form, [], 422)
    login_user(signed_in)  # this session goes on under the new generation; the others end
    notify("password_changed")
    return redirect(url_for("dashboard.index"))
