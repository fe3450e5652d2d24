// Starts the NHS.UK frontend components (header menu, skip link, error summary,
// notification banners, character counts...). Loaded with type="module", so it
// runs after the document is parsed and only in browsers that nhsuk-frontend
// supports. The bundle is copied to static/nhsuk/ by `npm run build`.
import { initAll } from '../nhsuk/nhsuk-frontend.min.js'

initAll()
