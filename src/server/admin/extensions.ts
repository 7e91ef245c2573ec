/**
 * The admin extensions built into the gateway: importing a module here
 * registers its admin routes (registerAdminRoute) and serving extensions
 * (registerServingExtension) in every process that has `admin:` configured,
 * the admin listener's and each worker's. Add one import line per module
 * (e.g. the dashboard: `import '../../observe/dashboard/index.ts'`).
 */
import '../../observe/dashboard/index.ts'
