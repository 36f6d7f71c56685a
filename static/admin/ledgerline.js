'use strict';
// Ledgerline's admin (core/admin_money.py): the navigation sidebar starts collapsed, so list
// pages and their filters fit a 1440 px screen. Its « toggle opens it; Django remembers the
// choice (localStorage), and this only sets the default for someone who never chose.
if (window.localStorage && localStorage.getItem('django.admin.navSidebarIsOpen') === null) {
    localStorage.setItem('django.admin.navSidebarIsOpen', 'false');
}
