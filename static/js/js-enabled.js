// Loaded as a classic script at the very top of <body>, so these classes are set
// before the page first paints. The same line as the inline snippet in
// nhsuk-frontend's template.njk, moved to a file because the Content-Security-Policy
// forbids inline scripts.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '');
