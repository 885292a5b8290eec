// Simple pages (console sign-in, "customers use the portal", "admins only").
import { wireAuthForms, wireLogout } from "./ui.js";

wireAuthForms();
wireLogout();
