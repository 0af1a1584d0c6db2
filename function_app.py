"""Azure Functions entry point: builds the app and registers the blueprints. Nothing here touches the network."""
import azure.functions as func

from lifecycle.config import entra_authentication_enabled
from lifecycle.http import directory, docs, guest_actions, guests, health, portal, review, sponsors
from lifecycle.timer import expiry_timer

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS if entra_authentication_enabled()
                       else func.AuthLevel.FUNCTION)
app.register_functions(guests.bp)
app.register_functions(guest_actions.bp)
app.register_functions(directory.bp)
app.register_functions(review.bp)
app.register_functions(sponsors.bp)
app.register_functions(portal.bp)
app.register_functions(health.bp)
app.register_functions(docs.blueprint(app))
app.register_functions(expiry_timer.bp)
