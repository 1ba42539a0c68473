"""The knowledge base the bot retrieves from: a handful of help-center articles."""

from __future__ import annotations

DOCS: dict[str, str] = {
    "kb://returns": (
        "Returns and refunds. You can return any item within 30 days of delivery for a full "
        "refund. Items must be unused and in their original packaging. Refunds are issued to the "
        "original payment method within 5 business days after we receive the item."
    ),
    "kb://shipping": (
        "Shipping. Standard shipping takes 3 to 5 business days and is free on orders over 50 "
        "euros. Express shipping takes 1 business day and costs 9 euros. We ship to all EU "
        "countries and to Switzerland and Norway."
    ),
    "kb://warranty": (
        "Warranty. All electronics carry a 2-year warranty against manufacturing defects. "
        "Accidental damage is not covered. To make a claim, contact support with your order "
        "number and a photo of the defect."
    ),
    "kb://password": (
        "Password reset. To reset your password, open the login page and click 'Forgot "
        "password'. We email you a reset link that is valid for 24 hours. If the email does not "
        "arrive, check your spam folder."
    ),
    "kb://contact": (
        "Contact. Support is available by chat and email from 9:00 to 18:00 CET, Monday to "
        "Friday. The email address is help@example.com. Phone support is not offered."
    ),
    "kb://pricing": (
        "Membership pricing. The Plus membership costs 5 euros per month or 50 euros per year "
        "and includes free express shipping. You can cancel at any time from your account page."
    ),
}
