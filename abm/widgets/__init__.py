"""Widgets of the dashboard's page that Solara does not have in the form the page needs."""
