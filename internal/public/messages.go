package public

import (
	"strings"

	"github.com/candorhq/candor/internal/status"
)

// messages are the short pages the site answers with (subscribing,
// confirming, unsubscribing, errors): title and text, by language and key.
var messages = map[string]map[string][2]string{
	"en": {
		"not-found":     {"Not found", "There is no such page. The status page is at /status."},
		"use-form":      {"Use the form", "Subscribe with the form on the status page."},
		"off":           {"Subscriptions are off", "This status page does not take subscriptions."},
		"too-many":      {"Too many requests", "Too many subscription requests came from your address. Try again in a minute."},
		"bad-form":      {"Could not read the form", "Send the form again from the status page."},
		"bad-address":   {"Check the address", ""},
		"failed":        {"Something went wrong", "Your subscription could not be recorded. Try again in a few minutes."},
		"inbox":         {"Check your inbox", "If the address can receive email, a message is on its way to it. Open the link in it to confirm your subscription."},
		"not-allowed":   {"Not allowed", "Open the link from the email."},
		"bad-link":      {"This link does not work", "The link is incomplete or no longer valid. Copy the whole link from the email, or subscribe again."},
		"link-failed":   {"Something went wrong", "Try the link again in a few minutes."},
		"unsubscribed":  {"You are unsubscribed", "You will not receive more updates from this status page."},
		"confirmed":     {"Subscription confirmed", "You will receive an email when we post an update."},
		"unsub-missing": {"This page could not be shown", "Try the link again."},
	},
	"fr": {
		"not-found":     {"Page introuvable", "Cette page n’existe pas. La page d’état se trouve à /status."},
		"use-form":      {"Utilisez le formulaire", "Abonnez-vous avec le formulaire de la page d’état."},
		"off":           {"Abonnements fermés", "Cette page d’état ne prend pas d’abonnements."},
		"too-many":      {"Trop de demandes", "Trop de demandes d’abonnement viennent de votre adresse. Réessayez dans une minute."},
		"bad-form":      {"Formulaire illisible", "Envoyez de nouveau le formulaire depuis la page d’état."},
		"bad-address":   {"Vérifiez l’adresse", ""},
		"failed":        {"Une erreur s’est produite", "Votre abonnement n’a pas pu être enregistré. Réessayez dans quelques minutes."},
		"inbox":         {"Consultez votre boîte de réception", "Si l’adresse peut recevoir des courriels, un message est en route. Ouvrez le lien qu’il contient pour confirmer votre abonnement."},
		"not-allowed":   {"Action non autorisée", "Ouvrez le lien du courriel."},
		"bad-link":      {"Ce lien ne fonctionne pas", "Le lien est incomplet ou n’est plus valable. Copiez le lien entier depuis le courriel, ou abonnez-vous de nouveau."},
		"link-failed":   {"Une erreur s’est produite", "Réessayez le lien dans quelques minutes."},
		"unsubscribed":  {"Vous êtes désabonné", "Vous ne recevrez plus de mises à jour de cette page d’état."},
		"confirmed":     {"Abonnement confirmé", "Vous recevrez un courriel à chaque nouvelle mise à jour."},
		"unsub-missing": {"Cette page n’a pas pu être affichée", "Réessayez le lien."},
	},
	"de": {
		"not-found":     {"Seite nicht gefunden", "Diese Seite gibt es nicht. Die Statusseite finden Sie unter /status."},
		"use-form":      {"Bitte das Formular verwenden", "Abonnieren Sie mit dem Formular auf der Statusseite."},
		"off":           {"Keine Abonnements", "Diese Statusseite nimmt keine Abonnements an."},
		"too-many":      {"Zu viele Anfragen", "Von Ihrer Adresse kamen zu viele Abonnement-Anfragen. Versuchen Sie es in einer Minute noch einmal."},
		"bad-form":      {"Formular nicht lesbar", "Senden Sie das Formular noch einmal von der Statusseite."},
		"bad-address":   {"Bitte die Adresse prüfen", ""},
		"failed":        {"Etwas ist schiefgegangen", "Ihr Abonnement konnte nicht gespeichert werden. Versuchen Sie es in ein paar Minuten noch einmal."},
		"inbox":         {"Bitte sehen Sie in Ihr Postfach", "Wenn die Adresse E-Mails empfangen kann, ist eine Nachricht unterwegs. Öffnen Sie den Link darin, um Ihr Abonnement zu bestätigen."},
		"not-allowed":   {"Nicht erlaubt", "Öffnen Sie den Link aus der E-Mail."},
		"bad-link":      {"Dieser Link funktioniert nicht", "Der Link ist unvollständig oder nicht mehr gültig. Kopieren Sie den ganzen Link aus der E-Mail oder abonnieren Sie erneut."},
		"link-failed":   {"Etwas ist schiefgegangen", "Versuchen Sie den Link in ein paar Minuten noch einmal."},
		"unsubscribed":  {"Sie sind abgemeldet", "Sie erhalten keine Aktualisierungen dieser Statusseite mehr."},
		"confirmed":     {"Abonnement bestätigt", "Sie erhalten eine E-Mail, sobald wir eine Aktualisierung veröffentlichen."},
		"unsub-missing": {"Diese Seite konnte nicht angezeigt werden", "Versuchen Sie den Link noch einmal."},
	},
	"es": {
		"not-found":     {"Página no encontrada", "Esta página no existe. La página de estado está en /status."},
		"use-form":      {"Use el formulario", "Suscríbase con el formulario de la página de estado."},
		"off":           {"Suscripciones cerradas", "Esta página de estado no acepta suscripciones."},
		"too-many":      {"Demasiadas solicitudes", "Llegaron demasiadas solicitudes de suscripción desde su dirección. Inténtelo de nuevo en un minuto."},
		"bad-form":      {"No se pudo leer el formulario", "Envíe de nuevo el formulario desde la página de estado."},
		"bad-address":   {"Revise la dirección", ""},
		"failed":        {"Algo salió mal", "No se pudo registrar su suscripción. Inténtelo de nuevo en unos minutos."},
		"inbox":         {"Revise su bandeja de entrada", "Si la dirección puede recibir correo, le hemos enviado un mensaje. Abra el enlace que contiene para confirmar su suscripción."},
		"not-allowed":   {"No permitido", "Abra el enlace del correo."},
		"bad-link":      {"Este enlace no funciona", "El enlace está incompleto o ya no es válido. Copie el enlace completo del correo o suscríbase de nuevo."},
		"link-failed":   {"Algo salió mal", "Pruebe el enlace de nuevo en unos minutos."},
		"unsubscribed":  {"Se ha dado de baja", "No recibirá más actualizaciones de esta página de estado."},
		"confirmed":     {"Suscripción confirmada", "Recibirá un correo cada vez que publiquemos una actualización."},
		"unsub-missing": {"No se pudo mostrar esta página", "Pruebe el enlace de nuevo."},
	},
}

// message returns a message's title and text in locale, falling back to
// its base language and then to English.
func message(locale, key string) (title, text string) {
	for _, l := range []string{strings.ToLower(locale), status.BaseLanguage(locale), "en"} {
		if m, ok := messages[l][key]; ok {
			return m[0], m[1]
		}
	}
	return key, ""
}
